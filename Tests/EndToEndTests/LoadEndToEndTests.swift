import Foundation
import NormDaemon
import NormTestSupport
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

    static let batch = seededFloats(16 * 8 * 1024, seed: 3)  // 512 KiB
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
        let resident =
            try String(contentsOfFile: "/proc/\(daemon.process.processIdentifier)/status", encoding: .utf8)
            .split(separator: "\n").first { $0.hasPrefix("VmRSS:") }.flatMap { $0.split(separator: " ").dropFirst().first.flatMap { Int($0) } } ?? 0
        #expect(resident < 300_000, "resident \(resident) kB while stalled")
        // The consumer resumes: everything the producer got in comes out, in order, nothing lost.
        for _ in 0..<accepted { _ = try pull.receiveTensor() }
        #expect(
            try eventually {
                let c = try Self.counters(daemon)
                return c.published == accepted && c.received == accepted && c.inFlight == 0
            })
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
        #expect(
            try eventually {
                let c = try Self.counters(daemon)
                return c.received == 60 && c.inFlight == 0
            })
        let c = try Self.counters(daemon)
        #expect(c.dropped > 0)
        #expect(c.published + c.dropped == 60)
        #expect(try daemon.ctl("stats")["pipelines"]?["p"]?["dropped_by_reason"]?["when_full"]?.intValue == c.dropped)
        // A dropped batch was accepted: its statistics update stands.
        #expect(try daemon.ctl("show", "p", "k")["keys"]?["k"]?["num_batches_tracked"] == .number("60"))
        #expect(daemon.stop() == 0)
    }
}
