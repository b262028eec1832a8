import Foundation
import Logging
import NATS
import NormCluster
import NormCore
import NormFormats
import NormTestSupport

/// A worker on a thread of its own, stopped and joined by `stop`.
final class RunningWorker: Sendable {
    let worker: ClusterWorker
    private let finished = DispatchSemaphore(value: 0)

    let log = CapturedLog()

    init(_ settings: ClusterSettings, threads: Int = 1) throws {
        let log = log
        worker = try ClusterWorker(
            settings: settings, norm: NormSettings(kind: .batch, momentum: .factor(0.1)), mode: .train, affine: nil, threads: threads,
            output: .jetStream, logger: Logger(label: "test", factory: { _ in log.handler() }))
        let worker = worker, finished = finished
        Thread {
            try? worker.run()
            finished.signal()
        }.start()
    }

    /// What SIGKILL leaves: the connection drops with deliveries unacknowledged.
    func kill() {
        worker.abandon()
        finished.wait()
    }

    func stop() {
        worker.stop()
        finished.wait()
    }
}

/// Reads what the server holds: a stream's messages and a bucket's key states.
struct ServerView {
    let connection: NATSConnection
    let jetStream: JetStream

    init(_ server: NATSServer) throws {
        connection = try NATSConnection(urls: [server.url], name: "view")
        jetStream = try connection.jetStream()
    }

    /// Publishes `batches` batches for each key on "<prefix>.<key>", the key's batch i carrying seq i.
    func publishInput(prefix: String, keys: [String], batches: Int, shape: [Int], from first: Int = 0) throws {
        let count = shape.reduce(1, *)
        for i in first..<batches {
            for (k, key) in keys.enumerated() {
                let values = seededFloats(count, seed: UInt64(1000 * k + i), mean: Double(k), std: 1 + Double(i % 5))
                let body = values.withUnsafeBytes { Array($0) }
                let header = #"{"dtype":"float32","shape":\#(shape),"seq":\#(i)}"#
                _ = try jetStream.publish(NATSMessage(subject: "\(prefix).\(key)", headers: ["Normd-Header": header], body: body))
            }
        }
    }

    func messageCount(_ stream: String) throws -> Int {
        let info = try JSONParser.parse(try jetStream.api("STREAM.INFO.\(stream)", ""))
        return info["state"]?["messages"]?.intValue ?? 0
    }

    /// Every message of `stream`, in stream order: (subject, Normd-Header, body).
    func messages(_ stream: String) throws -> [(subject: String, header: JSONValue, body: [UInt8])] {
        var result: [(String, JSONValue, [UInt8])] = []
        for seq in 1...max(1, try messageCount(stream)) {
            let reply = try JSONParser.parse(try jetStream.api("STREAM.MSG.GET.\(stream)", #"{"seq":\#(seq)}"#))
            guard let message = reply["message"], let subject = message["subject"]?.stringValue else { continue }
            let body = Data(base64Encoded: message["data"]?.stringValue ?? "").map { Array($0) } ?? []
            let headers = String(decoding: Data(base64Encoded: message["hdrs"]?.stringValue ?? "") ?? Data(), as: UTF8.self)
            let line = headers.split(separator: "\r\n").first { $0.hasPrefix("Normd-Header:") }
            let header = try JSONParser.parse(String(line?.dropFirst("Normd-Header:".count) ?? "{}").trimmingCharacters(in: .whitespaces))
            result.append((subject, header, body))
        }
        return result
    }

    func state(_ bucket: String, key: String) throws -> KeyState? {
        try jetStream.keyValue(bucket).get(KeyState.bucketKey(key)).map { try KeyState(decoding: $0.value) }
    }
}
