import Foundation
import NormDaemon
import Testing

@Suite("Reloads that restart tcp-bound pipelines")
struct ReloadTests {
    @Test("50 reloads in a row, each restarting a pipeline bound on tcp, all succeed and the pipeline answers afterwards")
    func fiftyReloads() throws {
        let input = try TestPeers.freeLoopbackPort(), output = try TestPeers.freeLoopbackPort()
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
        try push.sendTensor(key: "k", header: #"{"dtype":"float32","shape":[2,3,4]}"#, floats: testFloats(24, seed: 3))
        let out = try pull.receiveTensor()
        #expect(out.header["norm"]?["batches"]?.intValue == 1)
        #expect(daemon.stop() == 0)
    }
}
