import Foundation
import NATS
import NormCluster
import NormCore
import NormFormats

/// Reads what the server holds: a stream's messages and a bucket's key states.
public struct ServerView {
    public let connection: NATSConnection
    public let jetStream: JetStream

    public init(_ server: NATSServer) throws {
        connection = try NATSConnection(urls: [server.url], name: "view")
        jetStream = try connection.jetStream()
    }

    /// Publishes `batches` batches for each key on "<prefix>.<key>", the key's batch i carrying seq i.
    public func publishInput(prefix: String, keys: [String], batches: Int, shape: [Int], from first: Int = 0) throws {
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

    /// Sets a stream's `max_msgs` (-1: none) with `discard = "new"`: at the limit it refuses a
    /// publish, as an operator's limit on an output stream does. Returns the server's reply.
    @discardableResult
    public func limit(_ stream: String, maxMessages: Int) throws -> String {
        let info = try JSONSerialization.jsonObject(with: Data(jetStream.api("STREAM.INFO.\(stream)", ""))) as? [String: Any]
        guard var config = info?["config"] as? [String: Any] else { throw TestFailure("no stream \(stream)") }
        (config["max_msgs"], config["discard"]) = (maxMessages, "new")
        let json = String(decoding: try JSONSerialization.data(withJSONObject: config), as: UTF8.self)
        return String(decoding: try jetStream.api("STREAM.UPDATE.\(stream)", json), as: UTF8.self)
    }

    public func messageCount(_ stream: String) throws -> Int {
        let info = try JSONParser.parse(try jetStream.api("STREAM.INFO.\(stream)", ""))
        return info["state"]?["messages"]?.intValue ?? 0
    }

    /// Every message of `stream`, in stream order: (subject, Normd-Header or null, body).
    public func messages(_ stream: String) throws -> [(subject: String, header: JSONValue, body: [UInt8])] {
        var result: [(String, JSONValue, [UInt8])] = []
        for seq in 1...max(1, try messageCount(stream)) {
            let reply = try JSONParser.parse(try jetStream.api("STREAM.MSG.GET.\(stream)", #"{"seq":\#(seq)}"#))
            guard let message = reply["message"], let subject = message["subject"]?.stringValue else { continue }
            let body = Data(base64Encoded: message["data"]?.stringValue ?? "").map { Array($0) } ?? []
            let headers = String(decoding: Data(base64Encoded: message["hdrs"]?.stringValue ?? "") ?? Data(), as: UTF8.self)
            let line = headers.split(separator: "\r\n").first { $0.hasPrefix("Normd-Header:") }
            // A dead letter carries its input's header as it came, which need not be JSON.
            let header = (try? JSONParser.parse(String(line?.dropFirst("Normd-Header:".count) ?? "{}").trimmingCharacters(in: .whitespaces))) ?? .null
            result.append((subject, header, body))
        }
        return result
    }

    public func state(_ bucket: String, key: String) throws -> KeyState? {
        try jetStream.keyValue(bucket).get(KeyState.bucketKey(key)).map { try KeyState(decoding: $0.value) }
    }

    /// A stream's outputs by "key:seq", with what is wrong in them: a (key, seq) stored twice, a
    /// key's seq (the header's) not increasing, a message without a seq.
    public func outputs(_ stream: String) throws -> (byID: [String: [UInt8]], problems: [String]) {
        var byID: [String: [UInt8]] = [:]
        var last: [String: Int] = [:]
        var problems: [String] = []
        for message in try messages(stream) {
            let key = String(message.subject.split(separator: ".").last ?? "")
            guard let seq = message.header["seq"]?.intValue else {
                problems.append("\(stream) \(message.subject): no seq")
                continue
            }
            if seq <= last[key, default: -1] { problems.append("\(stream) \(key): seq \(seq) after \(last[key, default: -1])") }
            last[key] = seq
            if byID.updateValue(message.body, forKey: "\(key):\(seq)") != nil { problems.append("\(stream) \(key):\(seq) stored twice") }
        }
        return (byID, problems)
    }
}
