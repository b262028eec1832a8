import Foundation
import NormTestSupport
import Testing

@testable import NormDaemon

/// libnats closes a connection for good on some server errors, and the cluster worker's run then
/// ends with an error: the pipeline makes a new worker rather than standing still.
@Suite("Cluster mode: a worker whose connection closed for good is made again")
struct ClusterRestartTests {
    @Test("the worker's connection closed under it: a new worker takes the partitions, and every input is published once, in order")
    func workerMadeAgain() async throws {
        let server = try NATSServer()
        defer { server.stop() }
        let view = try ServerView(server)
        let log = CapturedLog()
        let daemon = try InProcessDaemon(
            pipelines: """
                [[pipeline]]
                name = "again"
                [pipeline.input]
                socket = "jetstream"
                url = "\(server.url)"
                stream = "AGAIN_IN"
                subject_prefix = "again.in"
                partitions = 2
                ack_wait_s = 0.5
                owner_timeout_s = 1.0
                [pipeline.output]
                socket = "jetstream"
                url = "\(server.url)"
                stream = "AGAIN_OUT"
                subject_prefix = "again.out"
                """, log: log)
        let pipeline = try #require(daemon.daemon.pipeline(named: "again"))
        #expect(eventually(timeout: 30) { pipeline.clusterWorker.withLock { $0 } != nil })
        try view.publishInput(prefix: "again.in", keys: ["a", "b"], batches: 2, shape: [2, 3, 4])
        #expect(try eventually(timeout: 20) { try view.messageCount("AGAIN_OUT") == 4 })

        let first = try #require(pipeline.clusterWorker.withLock { $0 })
        first.abandon()
        #expect(eventually(timeout: 20) { pipeline.clusterWorker.withLock { $0 }.map { $0 !== first } ?? false })
        try view.publishInput(prefix: "again.in", keys: ["a", "b"], batches: 4, shape: [2, 3, 4], from: 2)
        #expect(try eventually(timeout: 30) { try view.messageCount("AGAIN_OUT") == 8 })
        let (outputs, problems) = try view.outputs("AGAIN_OUT")
        #expect(problems.isEmpty && outputs.count == 8, "\(problems)")
        // An output is counted once its key's state is written, a moment after it is in the stream.
        #expect(eventually(timeout: 20) { (try? daemon.controlJSON("stats")["pipelines"]?["again"]?["published"]?.intValue) == 8 })
        let messages = log.all.map(\.message)
        #expect(messages.contains { $0.hasPrefix("cluster worker stopped: ") } && messages.contains("cluster worker started again"), "\(messages)")
        try await daemon.stop()
    }
}
