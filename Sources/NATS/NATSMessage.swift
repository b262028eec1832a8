import CNats

/// A message received from the server, copied out of libnats's `natsMsg` at once (which is then
/// freed), so it is a plain value that may cross threads.
public struct NATSMessage: Sendable {
    public let subject: String
    /// Whether the subject's bytes were UTF-8 (`subject` has U+FFFD where they were not).
    public let subjectIsUTF8: Bool
    public let reply: String?
    public let headers: [String: String]
    public let body: [UInt8]

    public init(subject: String, reply: String? = nil, headers: [String: String] = [:], body: [UInt8] = []) {
        self.subject = subject
        subjectIsUTF8 = true
        self.reply = reply
        self.headers = headers
        self.body = body
    }

    /// The status of a server control message ("404", "408", "423"…), nil for a data message.
    public var status: String? { headers["Status"] }

    /// Copies `message` and frees it.
    init(consuming message: OpaquePointer) {
        defer { natsMsg_Destroy(message) }
        let validated = String(validatingCString: natsMsg_GetSubject(message))
        subject = validated ?? String(cString: natsMsg_GetSubject(message))
        subjectIsUTF8 = validated != nil
        reply = natsMsg_GetReply(message).map { String(cString: $0) }
        let count = Int(natsMsg_GetDataLength(message))
        if count > 0, let data = natsMsg_GetData(message) {
            body = data.withMemoryRebound(to: UInt8.self, capacity: count) { Array(UnsafeBufferPointer(start: $0, count: count)) }
        } else {
            body = []
        }
        var headers: [String: String] = [:]
        var keys: UnsafeMutablePointer<UnsafePointer<CChar>?>?
        var keyCount: Int32 = 0
        if natsMsgHeader_Keys(message, &keys, &keyCount) == NATS_OK, let keys {
            for i in 0..<Int(keyCount) {
                guard let key = keys[i] else { continue }
                var value: UnsafePointer<CChar>?
                if natsMsgHeader_Get(message, key, &value) == NATS_OK, let value { headers[String(cString: key)] = String(cString: value) }
            }
            free(keys)
        }
        self.headers = headers
    }

    /// The last value of header `key` in `message`, nil when it has none or its headers cannot
    /// be read. (`headers` keeps the first value of each key, as `natsMsgHeader_Get` gives it.)
    static func lastHeader(_ message: OpaquePointer, _ key: String) -> String? {
        var values: UnsafeMutablePointer<UnsafePointer<CChar>?>?
        var count: Int32 = 0
        guard natsMsgHeader_Values(message, key, &values, &count) == NATS_OK, let values else { return nil }
        defer { free(values) }
        return count > 0 ? values[Int(count) - 1].map { String(cString: $0) } : nil
    }

    /// Builds a libnats message for the duration of `body`, which must not keep it.
    func withRaw<T>(_ body: (OpaquePointer) throws(NATSError) -> T) throws(NATSError) -> T {
        var message: OpaquePointer?
        try self.body.withUnsafeBufferPointer { (bytes) throws(NATSError) in
            try NATSRaw.check("creating a message on \(subject)") {
                natsMsg_Create(&message, subject, reply, bytes.baseAddress.map { UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self) }, Int32(bytes.count))
            }
        }
        guard let message else { throw NATSError(status: -1, message: "no message", context: "creating a message on \(subject)") }
        defer { natsMsg_Destroy(message) }
        for (key, value) in headers.sorted(by: { $0.key < $1.key }) {
            try NATSRaw.check("setting header \(key)") { natsMsgHeader_Set(message, key, value) }
        }
        return try body(message)
    }
}
