import CNats

#if canImport(Glibc)
import Glibc
#endif

/// One connection to a NATS server (or a cluster: any of `urls`), reconnecting for ever with a
/// pause between tries. Owns libnats's `natsConnection`.
///
/// `@unchecked Sendable`: libnats connections are safe to use from several threads at once (the
/// library locks inside); this class only holds the pointer, set once.
public final class NATSConnection: @unchecked Sendable {
    let raw: OpaquePointer
    public let urls: [String]

    /// - Parameters:
    ///   - timeout: seconds to wait for the first connection.
    ///   - reconnectWait: seconds between reconnection attempts; it reconnects for ever.
    public init(urls: [String], name: String, timeout: Double = 2, reconnectWait: Double = 0.25) throws(NATSError) {
        self.urls = urls
        var options: OpaquePointer?
        try NATSRaw.check("creating NATS options") { natsOptions_Create(&options) }
        guard let options else { throw NATSError(status: -1, message: "no options", context: "creating NATS options") }
        defer { natsOptions_Destroy(options) }
        var cURLs = urls.map { strdup($0) }
        defer { cURLs.forEach { free($0) } }
        try cURLs.withUnsafeMutableBufferPointer { (pointers) throws(NATSError) in
            try pointers.withMemoryRebound(to: UnsafePointer<CChar>?.self) { (servers) throws(NATSError) in
                try NATSRaw.check("setting NATS servers \(urls)") { natsOptions_SetServers(options, servers.baseAddress, Int32(urls.count)) }
            }
        }
        try NATSRaw.check("naming the connection") { natsOptions_SetName(options, name) }
        try NATSRaw.check("setting the connect timeout") { natsOptions_SetTimeout(options, Int64(timeout * 1000)) }
        try NATSRaw.check("setting reconnection") { natsOptions_SetMaxReconnect(options, -1) }
        try NATSRaw.check("setting the reconnect wait") { natsOptions_SetReconnectWait(options, Int64(reconnectWait * 1000)) }
        try NATSRaw.check("setting the reconnect buffer") { natsOptions_SetReconnectBufSize(options, 64 << 20) }
        var connection: OpaquePointer?
        try NATSRaw.check("connecting to \(urls.joined(separator: ", "))") { natsConnection_Connect(&connection, options) }
        guard let connection else { throw NATSError(status: -1, message: "no connection", context: "connecting to \(urls)") }
        raw = connection
    }

    deinit {
        natsConnection_Close(raw)
        natsConnection_Destroy(raw)
    }

    /// The largest message body the server accepts.
    public var maxPayload: Int { Int(natsConnection_GetMaxPayload(raw)) }

    /// Whether the connection is up now (not reconnecting, not closed).
    public var isConnected: Bool { natsConnection_Status(raw) == NATS_CONN_STATUS_CONNECTED }

    /// Closes the connection; later calls fail with a closed-connection error.
    public func close() { natsConnection_Close(raw) }

    public func publish(_ message: NATSMessage) throws(NATSError) {
        try message.withRaw { (raw) throws(NATSError) in
            try NATSRaw.check("publishing on \(message.subject)") { natsConnection_PublishMsg(self.raw, raw) }
        }
    }

    /// Sends `message` and waits up to `timeout` seconds for one reply.
    public func request(_ message: NATSMessage, timeout: Double) throws(NATSError) -> NATSMessage {
        try message.withRaw { (raw) throws(NATSError) in
            var reply: OpaquePointer?
            try NATSRaw.check("request on \(message.subject)") { natsConnection_RequestMsg(&reply, self.raw, raw, Int64(timeout * 1000)) }
            guard let reply else { throw NATSError(status: -1, message: "no reply", context: "request on \(message.subject)") }
            return NATSMessage(consuming: reply)
        }
    }

    /// Waits until the server has seen everything published so far.
    public func flush(timeout: Double) throws(NATSError) {
        try NATSRaw.check("flushing") { natsConnection_FlushTimeout(raw, Int64(timeout * 1000)) }
    }

    public func subscribe(_ subject: String) throws(NATSError) -> NATSSubscription {
        var subscription: OpaquePointer?
        try NATSRaw.check("subscribing to \(subject)") { natsConnection_SubscribeSync(&subscription, raw, subject) }
        guard let subscription else { throw NATSError(status: -1, message: "no subscription", context: "subscribing to \(subject)") }
        return NATSSubscription(raw: subscription, connection: self)
    }

    /// A new unique inbox subject for replies.
    public func newInbox() throws(NATSError) -> String {
        var inbox: UnsafeMutablePointer<natsInbox>?
        try NATSRaw.check("creating an inbox") { natsInbox_Create(&inbox) }
        defer { natsInbox_Destroy(inbox) }
        return String(cString: inbox!)
    }

    public func jetStream(timeout: Double = 5) throws(NATSError) -> JetStream {
        try JetStream(connection: self, timeout: timeout)
    }
}
