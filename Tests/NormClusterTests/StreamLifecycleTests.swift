import Foundation
import NATS
@testable import NormCluster
import NormCore
import NormTestSupport
import Testing

/// What an operator may do to the server under running instances: delete a partition's
/// consumer, or delete the input stream and let it be made again (to change `partitions`).
@Suite("Cluster mode: consumers and the input stream made anew")
struct StreamLifecycleTests {
    func settings(_ server: NATSServer, output: String = "LIFE_OUT", prefix: String = "life.out") -> ClusterSettings {
        var s = ClusterSettings(pipeline: "LIFE", urls: [server.url])
        (s.inputStream, s.inputPrefix, s.outputStream, s.outputPrefix) = ("LIFE_IN", "life.in", output, prefix)
        s.partitions = 1
        return s
    }

    func warnings(_ worker: RunningWorker) -> [String] { worker.log.all.filter { $0.level >= .warning }.map(\.message) }

    /// A server and a running worker that has applied key "k"'s first two batches.
    func twoApplied() throws -> (NATSServer, ServerView, ClusterSettings, RunningWorker) {
        let server = try NATSServer()
        let view = try ServerView(server)
        let settings = settings(server)
        let worker = try RunningWorker(settings)
        try view.publishInput(prefix: settings.inputPrefix, keys: ["k"], batches: 2, shape: [2, 3, 4])
        #expect(try eventually(timeout: 20) { try view.messageCount("LIFE_OUT") == 2 })
        return (server, view, settings, worker)
    }

    @Test("a consumer deleted under a running worker is made again: the partition goes on, nothing skipped, nothing stored twice")
    func consumerDeleted() throws {
        let (server, view, settings, worker) = try twoApplied()
        defer { server.stop() }
        let deleted = String(decoding: try view.jetStream.api("CONSUMER.DELETE.LIFE_IN.\(settings.consumer(0))", ""), as: UTF8.self)
        #expect(deleted.contains("\"success\":true"), "\(deleted)")
        try view.publishInput(prefix: settings.inputPrefix, keys: ["k"], batches: 4, shape: [2, 3, 4], from: 2)
        let counters = worker.worker.counters
        #expect(try eventually(timeout: 30) { try view.messageCount("LIFE_OUT") == 4 && counters.received.load(ordering: .relaxed) == 4 })
        worker.stop()
        // The new consumer delivers the stream from its start: the two applied inputs are skipped.
        #expect(counters.duplicatesSkipped.load(ordering: .relaxed) == 2)
        let (outputs, problems) = try view.outputs("LIFE_OUT")
        #expect(problems.isEmpty && outputs.count == 4, "\(problems)")
        #expect(try view.state("NORMD_STATE_LIFE", key: "k")?.statistics?.batchesTracked == 4)
        #expect(warnings(worker).contains { $0.contains("consumer is gone") }, "\(warnings(worker))")
    }

    @Test("the output stream deleted under a running worker is made again at the next publish: no output lost, none twice")
    func outputStreamDeleted() throws {
        let (server, view, settings, worker) = try twoApplied()
        defer { server.stop() }
        _ = try view.jetStream.api("STREAM.DELETE.LIFE_OUT", "")
        try view.publishInput(prefix: settings.inputPrefix, keys: ["k"], batches: 4, shape: [2, 3, 4], from: 2)
        let counters = worker.worker.counters
        #expect(eventually(timeout: 20) { counters.received.load(ordering: .relaxed) == 4 && (try? view.messageCount("LIFE_OUT")) == 2 })
        worker.stop()
        #expect(counters.published.load(ordering: .relaxed) == 4)
        #expect(try view.messages("LIFE_OUT").map { $0.header["seq"]?.intValue } == [2, 3])
        #expect(warnings(worker) == ["the output stream was gone: made it again"], "\(warnings(worker))")
    }

    @Test("the output stream at its message limit: inputs wait unacknowledged, are published once it has room, and are counted once each; the log says so once")
    func outputStreamFull() throws {
        let (server, view, settings, worker) = try twoApplied()
        defer { server.stop() }
        func limit(_ maxMessages: Int) throws {
            let reply = try view.limit("LIFE_OUT", maxMessages: maxMessages)
            #expect(reply.contains("\"max_msgs\":\(maxMessages),"), "\(reply)")
        }
        try limit(2)
        // A rejected input's dead letter waits for room too: it is an output.
        _ = try view.jetStream.publish(NATSMessage(subject: "\(settings.inputPrefix).bad", headers: ["Normd-Header": "{"], body: [0]))
        try view.publishInput(prefix: settings.inputPrefix, keys: ["k"], batches: 4, shape: [2, 3, 4], from: 2)
        let counters = worker.worker.counters
        #expect(eventually(timeout: 30) { counters.redeliveries.load(ordering: .relaxed) >= 2 })
        try limit(-1)
        #expect(try eventually(timeout: 30) { try view.messageCount("LIFE_OUT") == 5 && counters.received.load(ordering: .relaxed) == 5 })
        worker.stop()
        #expect(counters.published.load(ordering: .relaxed) == 4 && counters.rejected.load(ordering: .relaxed) == 1)
        #expect(try view.messages("LIFE_OUT").filter { !$0.subject.contains(".rejected.") }.map { $0.header["seq"]?.intValue } == [0, 1, 2, 3])
        #expect(try view.messages("LIFE_OUT").filter { $0.subject == "life.out.rejected.bad" }.count == 1)
        #expect(try view.state("NORMD_STATE_LIFE", key: "k")?.statistics?.batchesTracked == 4)
        // Said once when it fills and once when it has room, not at every try in between.
        let said = worker.log.all.filter { $0.level >= .notice }.map(\.message)
        #expect(said.filter { $0.hasPrefix("the output stream is full") }.count == 1, "\(said)")
        #expect(said.filter { $0 == "the output stream has room again: publishing" }.count == 1, "\(said)")
        #expect(!said.contains { $0.contains("not published") || $0.hasPrefix("partition lost") }, "\(said)")
    }

    @Test("the member bucket deleted under a running worker is made again, and its heartbeats go on: the log says when they failed and when they work again")
    func memberBucketDeleted() throws {
        let (server, view, settings, worker) = try twoApplied()
        defer { server.stop() }
        _ = try view.jetStream.api("STREAM.DELETE.KV_NORMD_MEMBERS_LIFE", "")
        let messages = { worker.log.all.map(\.message) }
        #expect(eventually(timeout: 20) { messages().contains("heartbeats work again") })
        #expect(messages().contains("the member bucket was gone: made it again"))
        #expect(messages().filter { $0.hasPrefix("heartbeats fail") }.count == 1)
        #expect(try view.jetStream.keyValue("NORMD_MEMBERS_LIFE").keys().count == 1)
        try view.publishInput(prefix: settings.inputPrefix, keys: ["k"], batches: 3, shape: [2, 3, 4], from: 2)
        #expect(try eventually(timeout: 20) { try view.messageCount("LIFE_OUT") == 3 })
        worker.stop()
    }

    @Test("the input stream deleted and made anew: a key's statistics go on from its first message, none taken for a duplicate; outputs under ids the output stream has seen are stored without them, and the log says so")
    func inputStreamMadeAnew() throws {
        let server = try NATSServer()
        let view = try ServerView(server)
        let settings = settings(server)
        var worker = try RunningWorker(settings)
        try view.publishInput(prefix: settings.inputPrefix, keys: ["x"], batches: 3, shape: [2, 3, 4])
        #expect(try eventually(timeout: 20) { try view.messageCount("LIFE_OUT") == 3 })
        worker.stop()
        let stream = try #require(try view.state("NORMD_STATE_LIFE", key: "x")?.stream)
        _ = try view.jetStream.api("STREAM.DELETE.LIFE_IN", "")

        // A new output stream, as the docs advise: every output is stored.
        worker = try RunningWorker(self.settings(server, output: "LIFE_OUT2", prefix: "life.out2"))
        try view.publishInput(prefix: settings.inputPrefix, keys: ["x"], batches: 6, shape: [2, 3, 4], from: 3)
        var counters = worker.worker.counters
        #expect(try eventually(timeout: 20) { try view.messageCount("LIFE_OUT2") == 3 })
        worker.stop()
        #expect(counters.received.load(ordering: .relaxed) == 3 && counters.duplicatesSkipped.load(ordering: .relaxed) == 0)
        #expect(try view.messages("LIFE_OUT2").map { $0.header["norm"]?["batches"]?.intValue } == [4, 5, 6])
        let state = try #require(try view.state("NORMD_STATE_LIFE", key: "x"))
        #expect(state.statistics?.batchesTracked == 6 && state.lastApplied == 3 && state.stream != stream)

        // Made anew once more, with the first output stream: its ids x:1… were used within its
        // duplicate window by other outputs, so the new outputs are stored without an id, and
        // the log says why (for the 1st, 2nd, 4th… of them).
        _ = try view.jetStream.api("STREAM.DELETE.LIFE_IN", "")
        worker = try RunningWorker(settings)
        try view.publishInput(prefix: settings.inputPrefix, keys: ["x"], batches: 3, shape: [2, 3, 4])
        counters = worker.worker.counters
        #expect(eventually(timeout: 20) { counters.received.load(ordering: .relaxed) == 3 })
        worker.stop()
        #expect(try view.messages("LIFE_OUT").map { $0.header["norm"]?["batches"]?.intValue } == [1, 2, 3, 7, 8, 9])
        #expect(try view.state("NORMD_STATE_LIFE", key: "x")?.statistics?.batchesTracked == 9)
        #expect(warnings(worker).filter { $0.contains("published without an id") }.count == 2, "\(warnings(worker))")
    }

    @Test("a redelivered input's output is the one the stream kept under its id: not stored twice")
    func redeliveredOutputKeptOnce() throws {
        let server = try NATSServer()
        let view = try ServerView(server)
        let settings = settings(server)
        let worker = try RunningWorker(settings)
        try view.publishInput(prefix: settings.inputPrefix, keys: ["x"], batches: 1, shape: [2, 3, 4])
        #expect(try eventually(timeout: 20) { try view.messageCount("LIFE_OUT") == 1 })
        worker.stop()
        let kept = try #require(try view.jetStream.message(in: "LIFE_OUT", sequence: 1))
        let sink = worker.worker.processor.outputSink
        let output = NATSMessage(subject: kept.subject, headers: kept.headers.filter { !$0.key.hasPrefix("Nats-") }, body: kept.body)
        #expect(try sink.publishOnce(output, messageID: "x:1") == .duplicate)
        #expect(try view.messageCount("LIFE_OUT") == 1)
        // Another message under a used id is stored without it, not dropped.
        let other = NATSMessage(subject: kept.subject, headers: output.headers, body: kept.body.reversed())
        #expect(try sink.publishOnce(other, messageID: "x:1") == .storedWithoutID)
        #expect(try view.messageCount("LIFE_OUT") == 2)
    }
}
