import Foundation
import NormDaemon
import NormFormats
import NormTestSupport
import Testing

@Suite("Reloads that restart tcp-bound pipelines")
struct ReloadTests {
    @Test("50 reloads in a row, each restarting a pipeline bound on tcp, all succeed and the pipeline answers afterwards")
    func fiftyReloads() throws {
        let input = try TestPeers.freeLoopbackPort()
        let output = try TestPeers.freeLoopbackPort()
        func pipeline(hwm: Int) -> String {
            """
            [[pipeline]]
            name = "tcp"
            [pipeline.input]
            bind = ["tcp://127.0.0.1:\(input)"]
            hwm = \(hwm)
            [pipeline.output]
            bind = ["tcp://127.0.0.1:\(output)"]
            [pipeline.norm]
            kind = "batch"
            """
        }
        let daemon = try DaemonProcess(pipelines: pipeline(hwm: 1000))
        let header = try String(contentsOfFile: daemon.configPath, encoding: .utf8).components(separatedBy: "[[pipeline]]")[0]
        let peers = TestPeers()
        let push = try peers.socket(.push, connect: ["tcp://127.0.0.1:\(input)"])
        let pull = try peers.socket(.pull, connect: ["tcp://127.0.0.1:\(output)"])
        var failures: [String] = []
        for round in 1...50 {
            // A changed input hwm restarts the pipeline: its sockets close and bind the same ports again.
            try (header + pipeline(hwm: 1000 + round)).write(toFile: daemon.configPath, atomically: true, encoding: .utf8)
            let reply = try daemon.ctl("reload")
            if reply["reloaded"] != .bool(true) { failures.append("reload \(round): \(reply.serialized)") }
        }
        #expect(failures.isEmpty, "\(failures.count) of 50 reloads failed: \(failures.prefix(3))")
        try push.sendTensor(key: "k", header: #"{"dtype":"float32","shape":[2,3,4]}"#, floats: seededFloats(24, seed: 3))
        let out = try pull.receiveTensor()
        #expect(out.header["norm"]?["batches"]?.intValue == 1)
        #expect(daemon.stop() == 0)
    }

    @Test("a reload that changes only norm settings keeps the pipeline's sockets, counters and statistics")
    func normOnlyReload() throws {
        let daemon = try DaemonProcess(pipelines: pipelineTOML(norm: "momentum = 0.1"))
        let peers = TestPeers()
        try OperationsEndToEndTests.feed(daemon, peers, count: 3)
        var before = stat()
        stat("\(daemon.directory.path)/bn.in", &before)
        let config = try String(contentsOfFile: daemon.configPath, encoding: .utf8)
        try config.replacingOccurrences(of: "momentum = 0.1", with: "momentum = 0.5").write(toFile: daemon.configPath, atomically: true, encoding: .utf8)
        #expect(try daemon.ctl("reload")["reloaded"] == .bool(true))
        var after = stat()
        stat("\(daemon.directory.path)/bn.in", &after)
        #expect(before.st_ino == after.st_ino, "the input's ipc socket was bound anew")
        #expect(
            daemon.log.contains("pipeline bn retuned: norm.momentum (0.1 → 0.5); sockets and counters kept, statistics kept"), "\(daemon.log)")
        let tracked = try OperationsEndToEndTests.runningStats(daemon)?["num_batches_tracked"]?.intValue
        try OperationsEndToEndTests.feed(daemon, peers, count: 1, seed: 40)
        #expect(try OperationsEndToEndTests.runningStats(daemon)?["num_batches_tracked"]?.intValue == (tracked ?? 0) + 1)
        #expect(try eventually { try daemon.ctl("stats")["pipelines"]?["bn"]?["received"]?.intValue == 4 }, "counters restarted")

        // Another kind is a norm change too: sockets and counters stay, statistics start fresh.
        try config.replacingOccurrences(of: "kind = \"batch\"\nmomentum = 0.1", with: "kind = \"layer\"").write(
            toFile: daemon.configPath, atomically: true, encoding: .utf8)
        #expect(try daemon.ctl("reload")["reloaded"] == .bool(true))
        try OperationsEndToEndTests.feed(daemon, peers, count: 1, seed: 50)
        #expect(try daemon.ctl("show", "bn")["kind"] == .string("layer"))
        #expect(try eventually { try daemon.ctl("stats")["pipelines"]?["bn"]?["received"]?.intValue == 5 })
        #expect(daemon.stop() == 0)
    }
}
