import Foundation
import NATS
@testable import NormCluster
import NormCore
import NormFormats
import NormTestSupport
import Testing

/// `max_keys` with a JetStream input: the state bucket's own message limit, so the server refuses
/// a new key beyond it whichever instance asks, and a refused key has nothing published.
@Suite("Cluster mode: max_keys is kept by the state bucket for every instance")
struct KeyLimitTests {
    func settings(_ server: NATSServer, maxKeys: Int) -> ClusterSettings {
        var s = ClusterSettings(pipeline: "LIM", urls: [server.url])
        (s.inputStream, s.inputPrefix, s.outputStream, s.outputPrefix) = ("LIM_IN", "lim.in", "LIM_OUT", "lim.out")
        s.partitions = 2
        s.maxKeys = maxKeys
        return s
    }

    /// The output stream's messages as "key:seq" for outputs and "rejected key: reason" for dead letters.
    func outcomes(_ view: ServerView) throws -> [String] {
        var result: [String] = []
        for seq in 1...max(1, try view.messageCount("LIM_OUT")) {
            let reply = try JSONParser.parse(try view.jetStream.api("STREAM.MSG.GET.LIM_OUT", #"{"seq":\#(seq)}"#))
            guard let message = reply["message"], let subject = message["subject"]?.stringValue else { continue }
            let key = subject.split(separator: ".").last.map(String.init) ?? ""
            let headers = String(decoding: Data(base64Encoded: message["hdrs"]?.stringValue ?? "") ?? Data(), as: UTF8.self)
            func header(_ name: String) -> JSONValue? {
                headers.split(separator: "\r\n").first { $0.hasPrefix("\(name):") }.flatMap {
                    try? JSONParser.parse(String($0.dropFirst(name.count + 1)).trimmingCharacters(in: .whitespaces))
                }
            }
            if subject.contains(".rejected.") {
                result.append("rejected \(key): \(header("Normd-Reject")?["error"]?.stringValue ?? "?")")
            } else {
                result.append("\(key):\(header("Normd-Header")?["seq"]?.intValue ?? -1)")
            }
        }
        return result
    }

    func bucketLimit(_ view: ServerView) throws -> Int? {
        try JSONParser.parse(try view.jetStream.api("STREAM.INFO.KV_NORMD_STATE_LIM", ""))["config"]?["max_msgs"]?.intValue
    }

    @Test("two instances share one limit; a refused key is rejected, dead-lettered and never published; known keys go on")
    func sharedLimit() throws {
        let server = try NATSServer()
        defer { server.stop() }
        let view = try ServerView(server)
        let settings = settings(server, maxKeys: 2)
        let first = try RunningWorker(settings), second = try RunningWorker(settings)
        #expect(try bucketLimit(view) == 2)
        try view.publishInput(prefix: settings.inputPrefix, keys: ["a", "b"], batches: 1, shape: [2, 3, 4])
        #expect(try eventually(timeout: 20) { try view.messageCount("LIM_OUT") == 2 })
        try view.publishInput(prefix: settings.inputPrefix, keys: ["c"], batches: 2, shape: [2, 3, 4])
        try view.publishInput(prefix: settings.inputPrefix, keys: ["a", "b"], batches: 2, shape: [2, 3, 4], from: 1)
        #expect(try eventually(timeout: 20) { try view.messageCount("LIM_OUT") == 6 })
        let counted = [first, second].map { $0.worker.counters }
        func sum(_ value: (ClusterCounters) -> Int) -> Int { counted.map(value).reduce(0, +) }
        #expect(eventually(timeout: 20) { sum { $0.received.load(ordering: .relaxed) } == 6 })
        first.stop()
        second.stop()
        #expect(sum { $0.published.load(ordering: .relaxed) } == 4)
        #expect(sum { $0.rejected.load(ordering: .relaxed) } == 2)
        #expect(try outcomes(view).sorted() == ["a:0", "a:1", "b:0", "b:1", "rejected c: max_keys", "rejected c: max_keys"])
        #expect(try view.state("NORMD_STATE_LIM", key: "c") == nil)
        // The refusal's mark: c's last refused input, in a bucket that lets its oldest marks go.
        #expect(try KeyState(decoding: #require(try view.jetStream.keyValue("NORMD_REFUSED_LIM").get(KeyState.bucketKey("c"))).value).lastApplied > 0)
        let refusals = try JSONParser.parse(try view.jetStream.api("STREAM.INFO.KV_NORMD_REFUSED_LIM", ""))["config"]
        #expect(refusals?["max_msgs"]?.intValue == ClusterSettings.refusalsKept && refusals?["discard"]?.stringValue == "old")
        #expect(try view.state("NORMD_STATE_LIM", key: "a")?.statistics?.batchesTracked == 2)
        let warnings = (first.log.all + second.log.all).filter { $0.level >= .warning }.map { "\($0.message) \($0.metadata)" }
        #expect(warnings.isEmpty, "\(warnings)")
    }

    @Test("a lower limit keeps the keys the bucket has and refuses new ones; 0 lifts it")
    func loweredAndLifted() throws {
        let server = try NATSServer()
        defer { server.stop() }
        let view = try ServerView(server)
        let unlimited = try RunningWorker(settings(server, maxKeys: 0))
        try view.publishInput(prefix: "lim.in", keys: ["a", "b", "c"], batches: 1, shape: [2, 3, 4])
        #expect(try eventually(timeout: 20) { try view.messageCount("LIM_OUT") == 3 })
        unlimited.stop()
        #expect(try bucketLimit(view) == -1)

        let limited = try RunningWorker(settings(server, maxKeys: 1))
        #expect(try bucketLimit(view) == 1)
        #expect(limited.log.all.contains { $0.message == "state bucket's key limit set" && $0.metadata["max_keys"] == "1" && $0.metadata["was"] == "0" })
        try view.publishInput(prefix: "lim.in", keys: ["a", "b", "c", "d"], batches: 2, shape: [2, 3, 4], from: 1)
        #expect(try eventually(timeout: 20) { try view.messageCount("LIM_OUT") == 7 })
        limited.stop()
        #expect(try outcomes(view).suffix(4).sorted() == ["a:1", "b:1", "c:1", "rejected d: max_keys"])

        let lifted = try RunningWorker(settings(server, maxKeys: 0))
        #expect(try bucketLimit(view) == -1)
        try view.publishInput(prefix: "lim.in", keys: ["d"], batches: 3, shape: [2, 3, 4], from: 2)
        // d's refused input is not taken for one it missed: only its new one is applied.
        let counters = lifted.worker.counters
        #expect(eventually(timeout: 20) { counters.published.load(ordering: .relaxed) >= 1 })
        lifted.stop()
        #expect(counters.received.load(ordering: .relaxed) == 1 && counters.published.load(ordering: .relaxed) == 1)
        let all = try outcomes(view)
        #expect(all.count == 8 && all.last == "d:2" && !all.contains("d:1"), "\(all)")
        #expect(try view.state("NORMD_STATE_LIM", key: "d")?.statistics?.batchesTracked == 1)
    }

    @Test("the refusal bucket deleted under a running worker is made again at the next refusal, with its limit")
    func refusalBucketDeleted() throws {
        let server = try NATSServer()
        defer { server.stop() }
        let view = try ServerView(server)
        let worker = try RunningWorker(settings(server, maxKeys: 1))
        try view.publishInput(prefix: "lim.in", keys: ["a"], batches: 1, shape: [2, 3, 4])
        #expect(try eventually(timeout: 20) { try view.messageCount("LIM_OUT") == 1 })
        _ = try view.jetStream.api("STREAM.DELETE.KV_NORMD_REFUSED_LIM", "")
        try view.publishInput(prefix: "lim.in", keys: ["b"], batches: 1, shape: [2, 3, 4])
        let counters = worker.worker.counters
        #expect(eventually(timeout: 20) { counters.rejected.load(ordering: .relaxed) == 1 })
        worker.stop()
        #expect(worker.log.all.contains { $0.message == "the refusal bucket was gone: made it again, empty" })
        #expect(!worker.log.all.contains { $0.message == "refusal not marked; the input will be redelivered" })
        let refusals = try JSONParser.parse(try view.jetStream.api("STREAM.INFO.KV_NORMD_REFUSED_LIM", ""))
        #expect(refusals["config"]?["discard"]?.stringValue == "old" && refusals["state"]?["messages"]?.intValue == 1)
    }

    @Test("a state bucket that discards old entries is refused with a limit: it would drop keys' statistics")
    func discardOldRefused() throws {
        let server = try NATSServer()
        defer { server.stop() }
        let view = try ServerView(server)
        let made = String(
            decoding: try view.jetStream.api(
                "STREAM.CREATE.KV_NORMD_STATE_LIM",
                #"{"name":"KV_NORMD_STATE_LIM","subjects":["$KV.NORMD_STATE_LIM.>"],"max_msgs_per_subject":1,"discard":"old","allow_rollup_hdrs":true,"allow_direct":true}"#),
            as: UTF8.self)
        #expect(made.contains("did_create"), "\(made)")
        do {
            _ = try RunningWorker(settings(server, maxKeys: 5))
            Issue.record("a worker started on a bucket that discards old entries")
        } catch let error as ClusterError {
            #expect(error.code == .topology)
            #expect(error.message.contains("discards old entries"), "\(error)")
        }
        #expect(try bucketLimit(view) == -1)
    }
}
