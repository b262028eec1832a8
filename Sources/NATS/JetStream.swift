import CNats

#if canImport(Glibc)
import Glibc
#endif

/// A JetStream context on a connection: publishing with acknowledgement, key-value buckets, and
/// the JetStream API's JSON requests for what libnats 3.4 has no typed call for (stream subject
/// transforms, consumer priority groups, pinned pull requests). Owns libnats's `jsCtx`.
///
/// `@unchecked Sendable`: a `jsCtx` only reads its options after creation and publishes through
/// the thread-safe connection; this class holds the pointer, set once.
public final class JetStream: @unchecked Sendable {
    let raw: OpaquePointer
    public let connection: NATSConnection
    /// Seconds to wait for an acknowledgement or an API reply.
    public let timeout: Double

    init(connection: NATSConnection, timeout: Double) throws(NATSError) {
        self.connection = connection
        self.timeout = timeout
        var options = jsOptions()
        try NATSRaw.check("initializing JetStream options") { jsOptions_Init(&options) }
        options.Wait = Int64(timeout * 1000)
        var context: OpaquePointer?
        try NATSRaw.check("opening JetStream") { natsConnection_JetStream(&context, connection.raw, &options) }
        guard let context else { throw NATSError(status: -1, message: "no context", context: "opening JetStream") }
        raw = context
    }

    deinit { jsCtx_Destroy(raw) }

    public struct Acknowledgement: Sendable, Equatable {
        public let stream: String
        public let sequence: UInt64
        /// The server already had a message with this id (within its duplicate window).
        public let duplicate: Bool
    }

    /// Publishes and waits for the stream's acknowledgement. With `messageID`, the server
    /// stores the message once however often it is published within its duplicate window.
    public func publish(_ message: NATSMessage, messageID: String? = nil) throws(NATSError) -> Acknowledgement {
        try message.withRaw { (raw) throws(NATSError) in
            var options = jsPubOptions()
            try NATSRaw.check("initializing publish options") { jsPubOptions_Init(&options) }
            options.MaxWait = Int64(timeout * 1000)
            let id = messageID.map { strdup($0) }
            defer { id.map { free($0) } }
            if let id { options.MsgId = UnsafePointer(id) }
            var ack: UnsafeMutablePointer<jsPubAck>?
            var code = jsErrCode(0)
            try NATSRaw.check("publishing on \(message.subject)", jetStream: &code) { js_PublishMsg(&ack, self.raw, raw, &options, $0) }
            defer { jsPubAck_Destroy(ack) }
            guard let ack else { throw NATSError(status: -1, message: "no acknowledgement", context: "publishing on \(message.subject)") }
            return Acknowledgement(stream: String(cString: ack.pointee.Stream), sequence: ack.pointee.Sequence, duplicate: ack.pointee.Duplicate)
        }
    }

    /// Sends `json` to the JetStream API subject `$JS.API.<operation>` and returns the reply's
    /// JSON bytes. An API error comes back as a reply with an "error" member: the caller reads it.
    public func api(_ operation: String, _ json: String) throws(NATSError) -> [UInt8] {
        try connection.request(NATSMessage(subject: "$JS.API." + operation, body: Array(json.utf8)), timeout: timeout).body
    }

    /// The first message of `stream` on `subject` at or after `sequence`, with its stream
    /// sequence, or nil when there is none, read with a direct get (the stream must allow them).
    ///
    /// The sequence is the last `Nats-Sequence` of the reply: the server appends its own headers
    /// after the message's, so a producer's header of that name cannot stand in for it. libnats
    /// writes `subject` into the request's JSON as it is, so a subject that JSON would escape is
    /// refused (`NATS_INVALID_ARG`); libnats refuses a reply whose headers it cannot read
    /// (`NATS_ERR`). Either is `isUnreadable`: `message(in:sequence:)` reads such a message.
    public func next(in stream: String, subject: String, from sequence: UInt64) throws(NATSError) -> (sequence: UInt64, message: NATSMessage)? {
        let context = "reading \(stream) on \(subject) from \(sequence)"
        guard !subject.utf8.contains(where: { $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") || $0 < 0x20 }) else {
            throw NATSError(status: Int32(NATS_INVALID_ARG.rawValue), message: "the subject needs JSON escaping, which libnats does not do", context: context)
        }
        var options = jsDirectGetMsgOptions()
        try NATSRaw.check("initializing direct-get options") { jsDirectGetMsgOptions_Init(&options) }
        let filter = strdup(subject)
        defer { free(filter) }
        options.Sequence = sequence
        options.NextBySubject = UnsafePointer(filter)
        var raw: OpaquePointer?
        let status = js_DirectGetMsg(&raw, self.raw, stream, nil, &options)
        if status == NATS_NOT_FOUND { return nil }
        guard status == NATS_OK, let raw else { throw NATSRaw.error(status, context) }
        let found = NATSMessage.lastHeader(raw, "Nats-Sequence").flatMap(UInt64.init)
        let message = NATSMessage(consuming: raw)
        guard let found, found >= sequence else {
            throw NATSError(status: Int32(NATS_ERR.rawValue), message: "no Nats-Sequence at or after \(sequence) in the reply", context: context)
        }
        return (found, message)
    }

    /// The message of `stream` at `sequence`, or nil when the stream has none there, read with
    /// the JetStream API's message get: its headers are the stored message's own, read as a
    /// delivery's are, and no subject goes into the request.
    public func message(in stream: String, sequence: UInt64) throws(NATSError) -> NATSMessage? {
        var raw: OpaquePointer?
        var code = jsErrCode(0)
        let status = js_GetMsg(&raw, self.raw, stream, sequence, nil, &code)
        if status == NATS_NOT_FOUND { return nil }
        guard status == NATS_OK, let raw else {
            throw NATSRaw.error(status, "reading \(stream) at \(sequence)", jetStreamCode: Int(code.rawValue))
        }
        return NATSMessage(consuming: raw)
    }

    /// The key-value bucket `bucket`, created with `history` 1 when it does not exist yet.
    public func keyValue(_ bucket: String) throws(NATSError) -> KeyValueBucket {
        var store: OpaquePointer?
        let status = js_KeyValue(&store, raw, bucket)
        if status == NATS_OK, let store { return KeyValueBucket(raw: store, jetStream: self, name: bucket) }
        guard status == NATS_NOT_FOUND else { throw NATSRaw.error(status, "opening key-value bucket \(bucket)") }
        var config = kvConfig()
        try NATSRaw.check("initializing a bucket configuration") { kvConfig_Init(&config) }
        let name = strdup(bucket)
        defer { free(name) }
        config.Bucket = UnsafePointer(name)
        config.History = 1
        try NATSRaw.check("creating key-value bucket \(bucket)") { js_CreateKeyValue(&store, raw, &config) }
        guard let store else { throw NATSError(status: -1, message: "no bucket", context: "creating key-value bucket \(bucket)") }
        return KeyValueBucket(raw: store, jetStream: self, name: bucket)
    }
}
