import Foundation
import NATS
import NormFormats
import NormTestSupport
import Testing

/// A producer that makes a new key per message, against a JetStream-fed pipeline with
/// `max_keys`: what an operator sees with the real binary.
@Suite("Cluster mode end to end: max_keys against a flood of new keys")
struct ClusterKeyLimitEndToEndTests {
    @Test("a flood of new keys: the limit holds, the rest are rejected and counted, and the log keeps to its budget")
    func floodOfKeys() throws {
        let server = try NATSServer()
        defer { server.stop() }
        let view = try ServerView(server)
        let daemon = try DaemonProcess(
            pipelines: """
                [[pipeline]]
                name = "flood"
                [pipeline.input]
                socket = "jetstream"
                url = "\(server.url)"
                stream = "FLOOD_IN"
                subject_prefix = "flood.in"
                partitions = 2
                [pipeline.output]
                socket = "jetstream"
                url = "\(server.url)"
                stream = "FLOOD_OUT"
                subject_prefix = "flood.out"
                [pipeline.norm]
                max_keys = 5
                """)
        defer { _ = daemon.stop() }
        let keys = (0..<60).map { "k\($0)" }
        try view.publishInput(prefix: "flood.in", keys: keys, batches: 1, shape: [2, 3, 4])
        // A message is counted received when its processing starts, and published or dead-lettered when it ends.
        var stats: JSONValue?
        #expect(
            try eventually(timeout: 30) {
                stats = try daemon.ctl("stats")["pipelines"]?["flood"]
                return stats?["received"]?.intValue == 60 && stats?["dead_letters"]?["sent"]?.intValue == 55
            }, "\(String(describing: stats))")
        #expect(stats?["published"]?.intValue == 5)
        #expect(stats?["rejected"] == .object([("max_keys", .int(55))]))
        #expect(try eventually(timeout: 30) { try view.messageCount("FLOOD_OUT") == 60 })  // 5 outputs, 55 dead letters
        let info = try JSONParser.parse(try view.jetStream.api("STREAM.INFO.KV_NORMD_STATE_flood", ""))
        #expect(info["state"]?["messages"]?.intValue == 5 && info["config"]?["max_msgs"]?.intValue == 5)
        let rejectionLines = daemon.log.split(separator: "\n").filter { $0.contains("reason=max_keys") }
        #expect(!rejectionLines.isEmpty && rejectionLines.count <= 10, "\(rejectionLines.count) rejection lines")
        #expect(daemon.log.contains("msg=\"state bucket's key limit set\""))
    }
}
