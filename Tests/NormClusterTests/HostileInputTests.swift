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
        /// A key longer than the contract's 255 bytes: its state bucket key (twice as long) in a
        /// request subject went past the server's control line, and the server closed the
        /// connection, which stopped the worker.
        case longKey
        /// A subject that is not UTF-8 (legal in NATS): the key would be read with U+FFFD in it.
        case notUTF8
    }

    /// One partition, so every key shares it.
    static func settings(_ server: NATSServer) -> ClusterSettings {
        var settings = ClusterSettings(pipeline: "HOST", urls: [server.url])
        (settings.inputStream, settings.inputPrefix, settings.outputStream, settings.outputPrefix) = ("HOST_IN", "host.in", "HOST_OUT", "host.out")
        settings.partitions = 1
        return settings
    }

    @Test("each input once, processed or rejected, and the partition's other keys go on", arguments: Case.allCases)
    func hostileInput(_ hostile: Case) throws {
        let server = try NATSServer()
        let view = try ServerView(server)
        let settings = Self.settings(server)
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
        case .longKey:
            try publish(String(repeating: "k", count: 3000), seq: 0)
            (outputs, rejected) = ([], ["host.out.rejected._"])
        case .notUTF8:
            try rawPublish(port: server.port, subject: Array("host.in.bad".utf8) + [0xFF, 0xFE], header: #"{"dtype":"float32","shape":[2,3,4]}"#, body: body)
            (outputs, rejected) = ([], ["host.out.rejected._"])
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

    @Test("an input rejected before its key's state, delivered again after its acknowledgement was lost, is counted once")
    func rejectedRedelivery() throws {
        let server = try NATSServer()
        let view = try ServerView(server)
        let settings = Self.settings(server)
        let worker = try RunningWorker(settings)
        worker.stop()  // its processor is driven here, with deliveries made up
        _ = try view.jetStream.keyValue("NORMD_STATE_HOST").put(KeyState.bucketKey("damaged"), Array("not a key state".utf8))
        let processor = worker.worker.processor, counters = worker.worker.counters
        let header = #"{"dtype":"float32","shape":[2,3,4]}"#, body = seededFloats(24, seed: 7).withUnsafeBytes { Array($0) }
        for (sequence, key) in [(1, String(repeating: "k", count: 300)), (2, "damaged")] {
            for delivered in 1...2 {
                let message = NATSMessage(
                    subject: "host.in.0.\(key)", reply: "$JS.ACK.HOST_IN.c.\(delivered).\(sequence).\(sequence).0.0", headers: ["Normd-Header": header], body: body)
                #expect(processor.process(message, partition: 0) == nil)
            }
        }
        #expect(counters.received.load(ordering: .relaxed) == 2 && counters.rejected.load(ordering: .relaxed) == 2)
        #expect(counters.duplicatesSkipped.load(ordering: .relaxed) == 2)
        #expect(try view.messages("HOST_OUT").map(\.subject) == ["host.out.rejected._", "host.out.rejected.damaged"])
    }

    /// Publishes with the NATS protocol itself, for a subject libnats (through Swift strings)
    /// cannot send; waits for the server's PONG, so the message is in the stream.
    func rawPublish(port: Int, subject: [UInt8], header: String, body: [UInt8]) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        try #require(connected == 0)
        let headers = Array("NATS/1.0\r\nNormd-Header: \(header)\r\n\r\n".utf8)
        let bytes =
            Array("CONNECT {\"verbose\":false,\"headers\":true}\r\nHPUB ".utf8) + subject + Array(" \(headers.count) \(headers.count + body.count)\r\n".utf8)
            + headers + body + Array("\r\nPING\r\n".utf8)
        #expect(bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) } == bytes.count)
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while !String(decoding: received, as: UTF8.self).contains("PONG") {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            try #require(n > 0, "the server closed the connection: \(String(decoding: received, as: UTF8.self))")
            received += chunk[..<n]
        }
    }
}
