import Foundation
import NormDaemon
import Testing
import ZeroMQ

@Suite("Backpressure, memory and counters under a consumer that stops reading")
struct LoadEndToEndTests {
    static func config(whenFull: String) -> String {
        """
        [[pipeline]]
        name = "p"
        [pipeline.input]
        socket = "pull"
        bind = ["ipc://{dir}/in"]
        hwm = 2
        [pipeline.output]
        socket = "push"
        bind = ["ipc://{dir}/out"]
        hwm = 2
        when_full = "\(whenFull)"
        [pipeline.norm]
        kind = "batch"
        """
    }

    static let batch = testFloats(16 * 8 * 1024, seed: 3)  // 512 KiB
    static let header = #"{"dtype":"float32","shape":[16,8,1024]}"#

    static func counters(_ daemon: DaemonProcess) throws -> (received: Int, published: Int, dropped: Int, inFlight: Int, rejected: Int) {
        let p = try daemon.ctl("stats")["pipelines"]!["p"]!
        let rejected = p["rejected"]!.objectValue!.reduce(0) { $0 + $1.1.intValue! }
        return (p["received"]!.intValue!, p["published"]!.intValue!, p["dropped"]!.intValue!, p["in_flight"]!.intValue!, rejected)
    }

    @Test("when_full = block: a stalled consumer stops the daemon reading, producers feel it, nothing is dropped")
    func block() throws {
        let daemon = try DaemonProcess(pipelines: Self.config(whenFull: "block"))
        let peers = TestPeers()
        let push = try peers.socket(.push, connect: ["ipc://\(daemon.directory.path)/in"])
        try push.setHighWaterMarks(send: 2)
        try push.set(ZMQOption.sendTimeout, 200)
        let pull = try peers.socket(.pull, connect: ["ipc://\(daemon.directory.path)/out"])
        try pull.setHighWaterMarks(receive: 2)
        var accepted = 0
        for _ in 0..<200 {
            let frames = try [Array("k".utf8), Array(Self.header.utf8), Self.batch.withUnsafeBytes { Array($0) }].map { try ZMQMessage($0) }
            guard try push.send(multipart: frames) else { break }
            accepted += 1
        }
        #expect(accepted < 60, "the producer was never held back (\(accepted) sends went through)")
        let stalled = try Self.counters(daemon)
        #expect(stalled.dropped == 0)
        #expect(stalled.received == stalled.published + stalled.dropped + stalled.inFlight + stalled.rejected)
        #expect(stalled.inFlight <= 8)
        let resident = try String(contentsOfFile: "/proc/\(daemon.process.processIdentifier)/status", encoding: .utf8)
            .split(separator: "\n").first { $0.hasPrefix("VmRSS:") }.flatMap { $0.split(separator: " ").dropFirst().first.flatMap { Int($0) } } ?? 0
        #expect(resident < 300_000, "resident \(resident) kB while stalled")
        // The consumer resumes: everything the producer got in comes out, in order, nothing lost.
        for _ in 0..<accepted { _ = try pull.receiveTensor() }
        #expect(try eventually { let c = try Self.counters(daemon); return c.published == accepted && c.received == accepted && c.inFlight == 0 })
        #expect(daemon.stop() == 0)
    }

    @Test("when_full = drop: a stalled consumer costs drops, counted, never a blocked producer")
    func drop() throws {
        let daemon = try DaemonProcess(pipelines: Self.config(whenFull: "drop"))
        let peers = TestPeers()
        let push = try peers.socket(.push, connect: ["ipc://\(daemon.directory.path)/in"])
        try push.set(ZMQOption.sendTimeout, 2000)
        let pull = try peers.socket(.pull, connect: ["ipc://\(daemon.directory.path)/out"])
        try pull.setHighWaterMarks(receive: 2)
        for _ in 0..<60 {
            try push.send(frames: [Array("k".utf8), Array(Self.header.utf8), Self.batch.withUnsafeBytes { Array($0) }])
        }
        #expect(try eventually { let c = try Self.counters(daemon); return c.received == 60 && c.inFlight == 0 })
        let c = try Self.counters(daemon)
        #expect(c.dropped > 0)
        #expect(c.published + c.dropped == 60)
        #expect(try daemon.ctl("stats")["pipelines"]?["p"]?["dropped_by_reason"]?["when_full"]?.intValue == c.dropped)
        // A dropped batch was accepted: its statistics update stands.
        #expect(try daemon.ctl("show", "p", "k")["keys"]?["k"]?["num_batches_tracked"] == .number("60"))
        #expect(daemon.stop() == 0)
    }
}

@Suite("Security: CURVE on TCP endpoints and the control socket's peer credentials")
struct SecurityEndToEndTests {
    @Test("CURVE: an allowed client gets through; an unknown key and a plain client do not; the key comes from $CREDENTIALS_DIRECTORY")
    func curve() throws {
        let directory = DaemonProcess.makeDirectory()
        let keys = directory.appendingPathComponent("keys").path
        _ = try CurveCertificate.generate(directory: keys, name: "server")
        _ = try CurveCertificate.generate(directory: keys, name: "client")
        _ = try CurveCertificate.generate(directory: keys, name: "stranger")
        let server = try CurveCertificate.load(secretFile: "\(keys)/server.key_secret")
        let client = try CurveCertificate.load(secretFile: "\(keys)/client.key_secret")
        let stranger = try CurveCertificate.load(secretFile: "\(keys)/stranger.key_secret")
        let port = try TestPeers.freeLoopbackPort()
        let daemon = try DaemonProcess(pipelines: """
            [[pipeline]]
            name = "secure"
            [pipeline.input]
            socket = "pull"
            bind = ["tcp://127.0.0.1:\(port)"]
            [pipeline.input.curve]
            secret_key_file = "server.key_secret"
            allow = ["\(client.publicKey)"]
            [pipeline.output]
            socket = "push"
            bind = ["ipc://{dir}/out"]
            """, directory: directory, environment: ["CREDENTIALS_DIRECTORY": keys])
        let peers = TestPeers()
        let pull = try peers.socket(.pull, connect: ["ipc://\(directory.path)/out"])
        func producer(_ cert: CurveCertificate?) throws -> ZMQSocket {
            let socket = try ZMQSocket(peers.context, .push)
            peers.sockets.append(socket)
            try socket.setLinger(milliseconds: 0)
            try socket.set(ZMQOption.sendTimeout, 500)
            if let cert {
                try socket.set(ZMQOption.curveServerKey, string: server.publicKey)
                try socket.set(ZMQOption.curvePublicKey, string: cert.publicKey)
                try socket.set(ZMQOption.curveSecretKey, string: cert.secretKey!)
            }
            try socket.connect("tcp://127.0.0.1:\(port)")
            return socket
        }
        let header = #"{"dtype":"float32","shape":[2,2,2],"who":"WHO"}"#
        for (name, cert) in [("stranger", stranger), ("plain", nil), ("client", client)] as [(String, CurveCertificate?)] {
            let socket = try producer(cert)
            // A refused handshake leaves the message queued at the producer; it never reaches normd.
            _ = try? socket.send(multipart: [try ZMQMessage(string: "k"), try ZMQMessage(string: header.replacingOccurrences(of: "WHO", with: name)),
                                             try ZMQMessage(testFloats(8, seed: 1).withUnsafeBytes { Array($0) })])
        }
        try pull.set(ZMQOption.receiveTimeout, 3000)
        let out = try pull.receiveTensor()
        #expect(out.header["who"] == .string("client"))
        try pull.set(ZMQOption.receiveTimeout, 1000)
        #expect(try pull.receiveFrames() == nil, "a refused client's message came through")
        #expect(try daemon.ctl("stats")["pipelines"]?["secure"]?["received"] == .number("1"))
        #expect(daemon.log.contains("refused a CURVE client"))
        #expect(daemon.stop() == 0)
    }

    @Test("the control socket closes on a peer that is not root, normd's user or in control_group",
          .enabled(if: getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv"), "needs root and setpriv"))
    func peerCredentials() throws {
        let pipelines = minimalPipeline
        func ctlAsNobody(_ daemon: DaemonProcess) throws -> (status: Int32, stdout: String, stderr: String) {
            // Past the file mode, so that the peer-credential check is what decides.
            chmod(daemon.directory.path, 0o755)
            chmod(daemon.socketPath, 0o666)
            return try runProcess("/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", DaemonProcess.binary, "ctl", "--socket", daemon.socketPath, "stats"])
        }
        let refused = try DaemonProcess(pipelines: pipelines)
        let answer = try ctlAsNobody(refused)
        #expect(answer.status == 2, "\(answer)")
        #expect(answer.stdout.isEmpty)
        #expect(refused.log.contains("control connection refused"))
        #expect(refused.stop() == 0)

        let group = String(cString: getgrgid(65534)!.pointee.gr_name)
        let allowed = try DaemonProcess(pipelines: pipelines, daemon: "control_group = \"\(group)\"")
        let granted = try ctlAsNobody(allowed)
        #expect(granted.status == 0, "\(granted)")
        #expect(granted.stdout.contains("\"pipelines\""))
        #expect(allowed.stop() == 0)
    }
}

@Suite("max_keys with key_policy = evict_lru")
struct EvictionEndToEndTests {
    @Test("the least recently used key is written to the state folder as it leaves memory and read back when it returns")
    func evictAndReturn() throws {
        let pipelineText = """
            [[pipeline]]
            name = "lru"
            [pipeline.input]
            bind = ["ipc://{dir}/in"]
            [pipeline.output]
            bind = ["ipc://{dir}/out"]
            [pipeline.norm]
            kind = "batch"
            channels = 2
            max_keys = 2
            key_policy = "evict_lru"
            """
        let daemon = try DaemonProcess(pipelines: pipelineText)
        let peers = TestPeers()
        let push = try peers.socket(.push, connect: ["ipc://\(daemon.directory.path)/in"])
        let pull = try peers.socket(.pull, connect: ["ipc://\(daemon.directory.path)/out"])
        func send(_ key: String, seed: UInt64) throws -> Int? {
            try push.sendTensor(key: key, header: #"{"dtype":"float32","shape":[4,2,3]}"#, floats: testFloats(24, seed: seed, mean: 1, std: 2))
            return try pull.receiveTensor().header["norm"]?["batches"]?.intValue
        }
        #expect(try send("a", seed: 1) == 1)
        #expect(try send("a", seed: 2) == 2)
        #expect(try send("b", seed: 3) == 1)
        #expect(try send("c", seed: 4) == 1)  // "a" is the least recently used: out it goes
        let keys = try daemon.ctl("show", "lru")["keys"]?.objectValue?.map(\.0)
        #expect(keys == ["b", "c"])
        #expect(try send("a", seed: 5) == 3, "the returning key did not continue from its saved statistics")
        #expect(try send("d", seed: 6) == 1)  // "b" leaves memory now, with no checkpoint after it
        // Evicted keys were written before they left memory: a kill -9 now, with no checkpoint
        // ever written, loses none of them ("a" and "d" lived only in memory since their last
        // checkpoint, which is what a kill -9 may take).
        daemon.signal(SIGKILL)
        daemon.process.waitUntilExit()
        #expect(!FileManager.default.fileExists(atPath: "\(daemon.stateDir)/lru.safetensors"))
        let restarted = try DaemonProcess(pipelines: pipelineText, directory: daemon.directory)
        #expect(try restarted.ctl("show", "lru")["keys"]?.objectValue?.map(\.0) == ["b", "c"])
        #expect(try restarted.ctl("show", "lru", "b")["keys"]?["b"]?["num_batches_tracked"]?.intValue == 1)
        #expect(try restarted.ctl("show", "lru", "c")["keys"]?["c"]?["num_batches_tracked"]?.intValue == 1)
        #expect(try send("e", seed: 7) == 1)  // "b" goes back to the archive
        _ = try restarted.ctl("checkpoint")
        let file = try SafeTensors.decode(Array(try Data(contentsOf: URL(fileURLWithPath: "\(daemon.stateDir)/lru.safetensors"))))
        #expect(file.tensors["b.num_batches_tracked"]?.int64Scalar == 1, "an archived key is in the state file after a checkpoint")
        #expect(file.tensors["e.num_batches_tracked"]?.int64Scalar == 1)
        #expect(try restarted.ctl("stats")["pipelines"]?["lru"]?["rejected"] == .object([]))
        #expect(restarted.stop() == 0)
    }
}

@Suite("Peers that come and go")
struct ReconnectEndToEndTests {
    @Test("a downstream that leaves and returns, and a daemon restarted under a live producer: nothing accepted is lost, order holds")
    func comeAndGo() throws {
        let directory = DaemonProcess.makeDirectory()
        let pipelines = minimalPipeline
        var daemon = try DaemonProcess(pipelines: pipelines, directory: directory)
        let peers = TestPeers()
        // The producer connects once and stays: ZeroMQ reconnects it when the daemon comes back.
        let push = try peers.socket(.push, connect: ["ipc://\(directory.path)/in"])
        try push.set(ZMQOption.reconnectInterval, 20)
        var pull = try peers.socket(.pull, connect: ["ipc://\(directory.path)/out"])
        var seen: [Int] = []
        func send(_ seq: Int) throws {
            try push.sendTensor(key: "k", header: #"{"dtype":"float32","shape":[4,2,8],"seq":\#(seq)}"#, floats: testFloats(64, seed: UInt64(seq)))
        }
        for seq in 0..<10 { try send(seq) }
        for _ in 0..<5 { seen.append(try pull.receiveTensor().header["seq"]!.intValue!) }
        // The downstream leaves (what it had queued goes with it, as ZeroMQ loses what a departed
        // PUSH peer held) and a new one connects; once the daemon has seen the old one go, every
        // batch reaches the new one.
        pull.close(lingerMilliseconds: 0)
        pull = try peers.socket(.pull, connect: ["ipc://\(directory.path)/out"])
        usleep(300_000)
        for seq in 10..<15 { try send(seq) }
        try pull.set(ZMQOption.receiveTimeout, 1000)
        while let frames = try pull.receiveFrames() { seen.append(try JSONParser.parse(frames[1])["seq"]!.intValue!) }
        #expect(seen == seen.sorted(), "order within the key broke: \(seen)")
        #expect(seen.suffix(5) == [10, 11, 12, 13, 14])
        let tracked = try daemon.ctl("show", "p", "k")["keys"]?["k"]?["num_batches_tracked"]?.intValue
        #expect(tracked == 15, "every accepted batch counts, delivered or not")

        // The daemon restarts while the producer keeps its connection.
        #expect(daemon.stop() == 0)
        for seq in 15..<20 { try send(seq) }  // queued at the producer while the daemon is down
        daemon = try DaemonProcess(pipelines: pipelines, directory: directory)
        var after: [Int] = []
        try pull.set(ZMQOption.receiveTimeout, 5000)
        for _ in 0..<5 { after.append(try pull.receiveTensor().header["seq"]!.intValue!) }
        #expect(after == [15, 16, 17, 18, 19])
        #expect(try daemon.ctl("show", "p", "k")["keys"]?["k"]?["num_batches_tracked"]?.intValue == 20)
        #expect(daemon.stop() == 0)
    }
}
