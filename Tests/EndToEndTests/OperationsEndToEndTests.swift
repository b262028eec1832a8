import Foundation
import NormDaemon
import NormFormats
import NormTestSupport
import Testing
import ZeroMQ

@Suite("Operating normd: state, restarts, init, reload, systemd, metrics")
struct OperationsEndToEndTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    /// Sends `count` batches on `key` and waits for each output.
    static func feed(_ daemon: DaemonProcess, _ peers: TestPeers, pipeline: String = "bn", key: String = "cam0", count: Int, seed: UInt64 = 1) throws {
        let push = try peers.socket(.push, connect: ["ipc://\(daemon.directory.path)/\(pipeline).in"])
        let pull = try peers.socket(.pull, connect: ["ipc://\(daemon.directory.path)/\(pipeline).out"])
        for i in 0..<count {
            try push.sendTensor(key: key, header: #"{"dtype":"float32","shape":[4,3,8]}"#, floats: seededFloats(96, seed: seed + UInt64(i), mean: 2, std: 3))
            _ = try pull.receiveTensor()
        }
        push.close()
        pull.close()
    }

    static func runningStats(_ daemon: DaemonProcess, pipeline: String = "bn", key: String = "cam0") throws -> JSONValue? {
        try daemon.ctl("show", pipeline, key)["keys"]?[key]
    }

    @Test("a restart after SIGTERM restores the statistics bit for bit, and the ctl mode survives it")
    func restartRestores() throws {
        let directory = DaemonProcess.makeDirectory()
        let first = try DaemonProcess(pipelines: pipelineTOML(), directory: directory)
        try Self.feed(first, TestPeers(), count: 5)
        let before = try #require(try Self.runningStats(first))
        _ = try first.ctl("mode", "bn", "eval")
        #expect(first.stop() == 0)
        let file = try SafeTensors.decode(Array(try Data(contentsOf: URL(fileURLWithPath: "\(first.stateDir)/bn.safetensors"))))
        #expect(file.tensors["cam0.running_mean"]?.dtype == .f64)
        #expect(file.tensors["cam0.num_batches_tracked"]?.int64Scalar == 5)
        #expect(file.metadata["mode"] == "eval" && file.metadata["configured_mode"] == "train")

        let second = try DaemonProcess(pipelines: pipelineTOML(), directory: directory)
        #expect(try Self.runningStats(second) == before, "the running statistics changed across the restart")
        #expect(try second.ctl("show", "bn")["mode"] == .string("eval"))
        #expect(second.stop() == 0)
    }

    @Test("after kill -9 at most one checkpoint interval is lost")
    func killNine() throws {
        let directory = DaemonProcess.makeDirectory()
        let first = try DaemonProcess(pipelines: pipelineTOML(), daemon: "checkpoint_interval_s = 0.3", directory: directory)
        try Self.feed(first, TestPeers(), count: 3)
        // No `checkpoint` command: only the periodic checkpoint can put the third batch on disk.
        // Polled rather than slept for, so a loaded CI machine cannot turn a late write into a failure.
        let stateFile = URL(fileURLWithPath: "\(first.stateDir)/bn.safetensors")
        #expect(
            eventually(timeout: 30) {
                let file = (try? Data(contentsOf: stateFile)).flatMap { try? SafeTensors.decode(Array($0)) }
                return file?.tensors["cam0.num_batches_tracked"]?.int64Scalar == 3
            }, "no periodic checkpoint with the third batch within 10 s")
        first.signal(SIGKILL)
        first.process.waitUntilExit()
        let second = try DaemonProcess(pipelines: pipelineTOML(), daemon: "checkpoint_interval_s = 0.3", directory: directory)
        #expect(try Self.runningStats(second)?["num_batches_tracked"] == .number("3"))
        #expect(second.stop() == 0)
    }

    @Test("a truncated newest state file falls back to the previous generation, loudly; both bad refuses to start")
    func truncatedState() throws {
        let directory = DaemonProcess.makeDirectory()
        let first = try DaemonProcess(pipelines: pipelineTOML(), directory: directory)
        try Self.feed(first, TestPeers(), count: 2)
        _ = try first.ctl("checkpoint")  // generation with 2 batches becomes .prev after the next write
        try Self.feed(first, TestPeers(), count: 1, seed: 50)
        let files = try first.ctl("checkpoint")["files"]?.arrayValue
        #expect(files == [.string("\(first.stateDir)/bn.safetensors")])
        #expect(first.stop() == 0)

        let current = "\(first.stateDir)/bn.safetensors"
        let previous = "\(first.stateDir)/bn.prev.safetensors"
        let bytes = try Data(contentsOf: URL(fileURLWithPath: current))
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: current))
        let second = try DaemonProcess(pipelines: pipelineTOML(), directory: directory)
        let tracked = try Self.runningStats(second)?["num_batches_tracked"]?.intValue
        #expect(tracked == 3, "the previous generation (written at shutdown) holds 3 batches")
        #expect(second.log.contains("is corrupt"))
        #expect(second.stop() == 0)

        // Now break both generations.
        try Data("garbage".utf8).write(to: URL(fileURLWithPath: current))
        try Data("garbage".utf8).write(to: URL(fileURLWithPath: previous))
        let refused = try DaemonProcess(pipelines: pipelineTOML(), directory: directory, waitUntilReady: false)
        refused.process.waitUntilExit()
        #expect(refused.process.terminationStatus == 1)
        #expect(refused.log.contains("bn.safetensors") && refused.log.contains("bn.prev.safetensors"))
        let reset = try DaemonProcess(pipelines: pipelineTOML(), directory: directory, arguments: ["--reset-state"])
        #expect(try reset.ctl("show", "bn")["keys"] == .object([]))
        #expect(reset.stop() == 0)
    }

    @Test("init from a PyTorch BatchNorm2d state_dict in safetensors gives PyTorch's eval output")
    func initFromPyTorch() throws {
        struct Expected: Decodable {
            let shape: [Int]
            let input: [Float]
            let expected: [Double]
            let running_mean: [Double]
        }
        let expected = try JSONDecoder().decode(Expected.self, from: Data(contentsOf: Self.fixtures.appendingPathComponent("bn2d_init_expected.json")))
        let initPath = Self.fixtures.appendingPathComponent("bn2d_init.safetensors").path
        let daemon = try DaemonProcess(pipelines: pipelineTOML(norm: "channels = 4\nmode = \"eval\"\ninit = \"\(initPath)\""))
        let peers = TestPeers()
        let push = try peers.socket(.push, connect: ["ipc://\(daemon.directory.path)/bn.in"])
        let pull = try peers.socket(.pull, connect: ["ipc://\(daemon.directory.path)/bn.out"])
        try push.sendTensor(key: "any", header: #"{"dtype":"float32","shape":[2,4,3,3]}"#, floats: expected.input)
        let out = try pull.receiveTensor()
        #expect(maxError(out.floats, expected.expected) < 1e-5)
        #expect(out.header["norm"] == .object([("kind", .string("batch")), ("mode", .string("eval")), ("batches", .number("1234"))]))
        #expect(daemon.stop() == 0)

        // The same file against 3 channels is a configuration error, found by check-config and by run.
        let wrong = daemon.directory.appendingPathComponent("wrong.toml").path
        let wrongText = pipelineTOML(norm: "channels = 3\ninit = \"\(initPath)\"").replacingOccurrences(of: "{dir}", with: daemon.directory.path)
        try wrongText.write(toFile: wrong, atomically: true, encoding: .utf8)
        let initLine = try #require(wrongText.split(separator: "\n", omittingEmptySubsequences: false).firstIndex { $0.hasPrefix("init = ") }) + 1
        let checked = try runNormd(["check-config", wrong])
        #expect(checked.status == 78)
        #expect(
            checked.stderr.contains("wrong.toml:\(initLine): pipeline[0].norm.init: init file \(initPath): weight has shape [4], expected [3]"),
            "\(checked.stderr)")
        let run = try runNormd(["run", "--config", wrong])
        #expect(run.status == 78)
    }

    @Test("reload adds, removes and keeps pipelines; a bad configuration changes nothing")
    func reload() throws {
        let daemon = try DaemonProcess(pipelines: pipelineTOML("keep") + "\n" + pipelineTOML("drop"))
        try Self.feed(daemon, TestPeers(), pipeline: "keep", count: 2)
        let original = try String(contentsOfFile: daemon.configPath, encoding: .utf8)
        let header = original.components(separatedBy: "[[pipeline]]")[0]
        let keep = pipelineTOML("keep").replacingOccurrences(of: "{dir}", with: daemon.directory.path)
        let add = pipelineTOML("added", kind: "layer").replacingOccurrences(of: "{dir}", with: daemon.directory.path)
        try (header + keep + "\n" + add).write(toFile: daemon.configPath, atomically: true, encoding: .utf8)
        let reply = try daemon.ctl("reload")
        #expect(reply["pipelines"] == .array([.string("keep"), .string("added")]))
        #expect(try Self.runningStats(daemon, pipeline: "keep")?["num_batches_tracked"] == .number("2"))
        #expect(try daemon.ctl("show", "drop")["error"] == .string("unknown_pipeline"))
        try Self.feed(daemon, TestPeers(), pipeline: "added", count: 1)

        try (header + keep + "\n[pipeline.norm]\ngroups = 7\nkind = \"group\"\nchannels = 3\n").write(
            toFile: daemon.configPath, atomically: true, encoding: .utf8)
        let refused = try daemon.ctl("reload")
        #expect(refused["error"] == .string("config"))
        #expect(refused["detail"]?.stringValue?.contains("normd.toml:") == true)
        daemon.signal(SIGHUP)
        // The SIGHUP reload is refused as the ctl one was: a second "reload refused" line.
        #expect(eventually(timeout: 30) { daemon.log.components(separatedBy: "reload refused").count - 1 >= 2 }, "\(daemon.log)")
        #expect(daemon.process.isRunning)
        try Self.feed(daemon, TestPeers(), pipeline: "added", count: 1, seed: 9)
        #expect(try eventually { try daemon.ctl("stats")["pipelines"]?["added"]?["published"] == .number("2") })
        #expect(daemon.stop() == 0)
    }

    @Test("sd_notify: READY=1 once up, RELOADING=1 with MONOTONIC_USEC then READY=1, WATCHDOG=1, STOPPING=1")
    func systemdNotify() throws {
        let directory = DaemonProcess.makeDirectory()
        let listener = try NotifyListener(path: directory.appendingPathComponent("notify.sock").path)
        let daemon = try DaemonProcess(
            pipelines: pipelineTOML(), directory: directory,
            environment: ["NOTIFY_SOCKET": listener.path, "WATCHDOG_USEC": "400000"])
        let ready = try listener.next(containing: "READY=1")
        #expect(ready.contains("STATUS="))
        #expect(try listener.next(containing: "WATCHDOG=1") == "WATCHDOG=1")
        daemon.signal(SIGHUP)
        let reloading = try listener.next(containing: "RELOADING=1")
        #expect(reloading.contains("MONOTONIC_USEC="))
        _ = try listener.next(containing: "READY=1")
        #expect(daemon.stop() == 0)
        _ = try listener.next(containing: "STOPPING=1")
    }

    @Test("metrics parse as Prometheus text with per-pipeline and per-reason series")
    func metrics() throws {
        let daemon = try DaemonProcess(pipelines: pipelineTOML())
        try Self.feed(daemon, TestPeers(), count: 2)
        #expect(try eventually { try daemon.ctlText("metrics").contains("normd_published_total{pipeline=\"bn\"} 2") })
        let text = try daemon.ctlText("metrics")
        var families: [String: String] = [:]
        for line in text.split(separator: "\n") {
            if line.hasPrefix("# TYPE ") {
                let parts = line.split(separator: " ")
                families[String(parts[2])] = String(parts[3])
            } else if !line.hasPrefix("#") {
                // name{labels} value — the value must parse as a number
                let value = line.split(separator: " ").last.map(String.init) ?? ""
                #expect(Double(value) != nil, "bad sample line: \(line)")
                let name = String(line.prefix { $0 != "{" && $0 != " " })
                let family = families.keys.first { name == $0 || name.hasPrefix($0 + "_") }
                #expect(family != nil, "sample without a TYPE: \(line)")
            }
        }
        #expect(families["normd_published_total"] == "counter")
        #expect(families["normd_batch_latency_seconds"] == "histogram")
        #expect(text.contains("normd_published_total{pipeline=\"bn\"} 2"))
        #expect(text.contains("normd_rejected_total{pipeline=\"bn\",reason=\"nonfinite\"} 0"))
        #expect(text.contains("normd_batch_latency_seconds_count{pipeline=\"bn\"} 2"))
        #expect(!text.contains("normd_running_mean"), "per-key gauges are off by default")
        #expect(daemon.stop() == 0)
    }
}

/// A datagram socket standing in for systemd's notification socket.
final class NotifyListener {
    let path: String
    let fd: Int32
    var pending: [String] = []

    init(path: String) throws {
        self.path = path
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0 else { throw TestFailure("bind \(path) failed") }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    /// The next datagram holding `text`, skipping others.
    func next(containing text: String) throws -> String {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            guard n > 0 else { throw TestFailure("no datagram with \(text); saw \(pending)") }
            let message = String(decoding: buffer[0..<n], as: UTF8.self)
            pending.append(message)
            if message.split(separator: "\n").contains(where: { $0 == text }) { return message }
        }
    }

    /// Drops every datagram queued now.
    func drain() {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while recv(fd, &buffer, buffer.count, Int32(MSG_DONTWAIT)) > 0 {}
        pending = []
    }

    deinit {
        close(fd)
        unlink(path)
    }
}
