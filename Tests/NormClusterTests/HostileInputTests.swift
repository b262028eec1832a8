import Foundation
import NATS
@testable import NormCluster
import NormCore
import NormTestSupport
import Testing

/// What a producer may publish on the input subjects that libnats or a careless reading of a
/// stored message would trip over. A key's first delivery reads the stream for messages it
/// missed (contract section 8), so each of these once held up every key of its partition.
@Suite("Cluster mode: a producer's message cannot hold up a partition")
struct HostileInputTests {
    enum Case: String, CaseIterable, Sendable {
        /// libnats writes a direct get's subject into JSON unescaped: a malformed request.
        case quoteAndBackslash
        /// The server appends its Nats-Sequence after the message's own: the first one read was
        /// the producer's, and 0 made the key apply one batch over and over.
        case ownSequence
        /// An empty value makes the direct get's reply unreadable to libnats; the input is
        /// rejected, as its delivery has no header JSON either.
        case emptyHeader
    }

    @Test("each input once, processed or rejected, and the partition's other keys go on", arguments: Case.allCases)
    func hostileInput(_ hostile: Case) throws {
        let server = try NATSServer()
        let view = try ServerView(server)
        var settings = ClusterSettings(pipeline: "HOST", urls: [server.url])
        (settings.inputStream, settings.inputPrefix, settings.outputStream, settings.outputPrefix) = ("HOST_IN", "host.in", "HOST_OUT", "host.out")
        settings.partitions = 1
        let worker = try RunningWorker(settings)
        let body = seededFloats(24, seed: 7, mean: 1, std: 2).withUnsafeBytes { Array($0) }
        func publish(_ key: String, seq: Int, extra: [String: String] = [:], header: String? = nil) throws {
            let normd = header ?? #"{"dtype":"float32","shape":[2,3,4],"seq":\#(seq)}"#
            _ = try view.jetStream.publish(NATSMessage(subject: "host.in.\(key)", headers: extra.merging(["Normd-Header": normd]) { $1 }, body: body))
        }
        let outputs: [String], rejected: [String]
        switch hostile {
        case .quoteAndBackslash:
            try publish(#"a"b"#, seq: 0)
            try publish(#"a"b"#, seq: 1)
            try publish(#"a\qb"#, seq: 0)
            (outputs, rejected) = ([#"a"b:0"#, #"a"b:1"#, #"a\qb:0"#], [])
        case .ownSequence:
            try publish("spoof", seq: 0, extra: ["Nats-Sequence": "0"])
            try publish("spoof", seq: 1, extra: ["Nats-Sequence": "99999"])
            (outputs, rejected) = (["spoof:0", "spoof:1"], [])
        case .emptyHeader:
            try publish("empty", seq: 0, header: "")
            (outputs, rejected) = ([], ["host.out.rejected.empty"])
        }
        try publish("after", seq: 0)

        let counters = worker.worker.counters, total = outputs.count + 1 + rejected.count
        #expect(try eventually(timeout: 20) { try view.messageCount("HOST_OUT") == total && counters.received.load(ordering: .relaxed) == total })
        worker.stop()
        #expect(counters.published.load(ordering: .relaxed) == outputs.count + 1)
        #expect(counters.rejected.load(ordering: .relaxed) == rejected.count)
        let messages = try view.messages("HOST_OUT")
        #expect(messages.filter { $0.subject.contains(".rejected.") }.map(\.subject) == rejected)
        let published = messages.filter { !$0.subject.contains(".rejected.") }.map { "\($0.subject.split(separator: ".").last ?? ""):\($0.header["seq"]?.intValue ?? -1)" }
        #expect(published.sorted() == (outputs + ["after:0"]).sorted())
        if hostile == .ownSequence { #expect(try view.state("NORMD_STATE_HOST", key: "spoof")?.statistics?.batchesTracked == 2) }
        let warnings = worker.log.all.filter { $0.level >= .warning }.map(\.message)
        #expect(warnings.isEmpty, "\(warnings)")
    }
}
