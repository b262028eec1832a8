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

    /// What the connection tells `onEvent` about, on libnats's callback thread.
    public enum Event: Sendable {
        /// The connection to the server was lost; libnats reconnects.
        case disconnected
        /// Connected again, to the URL given (its credentials redacted).
        case reconnected(String)
    }

    /// - Parameters:
    ///   - timeout: seconds to wait for the first connection.
    ///   - reconnectWait: seconds between reconnection attempts; it reconnects for ever.
    ///   - onEvent: told when the connection is lost and when it is back.
    public init(urls: [String], name: String, timeout: Double = 2, reconnectWait: Double = 0.25,
                onEvent: (@Sendable (Event) -> Void)? = nil) throws(NATSError) {
        self.urls = urls
        var options: OpaquePointer?
        try NATSRaw.check("creating NATS options") { natsOptions_Create(&options) }
        guard let options else { throw NATSError(status: -1, message: "no options", context: "creating NATS options") }
        defer { natsOptions_Destroy(options) }
        var cURLs = urls.map { strdup($0) }
        defer { cURLs.forEach { free($0) } }
        try cURLs.withUnsafeMutableBufferPointer { (pointers) throws(NATSError) in
            try pointers.withMemoryRebound(to: UnsafePointer<CChar>?.self) { (servers) throws(NATSError) in
                try NATSRaw.check("setting NATS servers \(URLCredentials.redacted(urls: urls))") { natsOptions_SetServers(options, servers.baseAddress, Int32(urls.count)) }
            }
        }
        try NATSRaw.check("naming the connection") { natsOptions_SetName(options, name) }
        try NATSRaw.check("setting the connect timeout") { natsOptions_SetTimeout(options, Int64(timeout * 1000)) }
        try NATSRaw.check("setting reconnection") { natsOptions_SetMaxReconnect(options, -1) }
        try NATSRaw.check("setting the reconnect wait") { natsOptions_SetReconnectWait(options, Int64(reconnectWait * 1000)) }
        try NATSRaw.check("setting the reconnect buffer") { natsOptions_SetReconnectBufSize(options, 64 << 20) }
        // libnats posts its callbacks to a thread of its own, possibly after `deinit`: the handler
        // is retained here and released by the closed callback, which comes last, once. A failed
        // first connect calls none of them, so that path releases it.
        let events = onEvent.map { Unmanaged.passRetained(EventHandler($0)) }
        if let events {
            let context = events.toOpaque()
            try NATSRaw.check("setting the disconnected callback") {
                // Closing the connection calls it too: that is no lost connection.
                natsOptions_SetDisconnectedCB(options, { connection, context in
                    if !natsConnection_IsClosed(connection) { EventHandler.post(.disconnected, context) }
                }, context)
            }
            try NATSRaw.check("setting the reconnected callback") {
                natsOptions_SetReconnectedCB(options, { connection, context in EventHandler.post(.reconnected(URLCredentials.redacted(url: NATSConnection.connectedURL(connection))), context) }, context)
            }
            try NATSRaw.check("setting the closed callback") { natsOptions_SetClosedCB(options, { _, context in EventHandler.release(context) }, context) }
        }
        var connection: OpaquePointer?
        let status = natsConnection_Connect(&connection, options)
        guard status == NATS_OK, let connection else {
            events?.release()
            throw NATSRaw.error(status, "connecting to \(URLCredentials.redacted(urls: urls))")
        }
        raw = connection
    }

    /// The URL `connection` is connected to, or "" when it is not.
    static func connectedURL(_ connection: OpaquePointer?) -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard natsConnection_GetConnectedUrl(connection, &buffer, buffer.count) == NATS_OK else { return "" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The `onEvent` closure behind the C callbacks' context pointer.
    private final class EventHandler: Sendable {
        let handler: @Sendable (Event) -> Void
        init(_ handler: @escaping @Sendable (Event) -> Void) { self.handler = handler }

        static func post(_ event: Event, _ context: UnsafeMutableRawPointer?) {
            guard let context else { return }
            Unmanaged<EventHandler>.fromOpaque(context).takeUnretainedValue().handler(event)
        }

        static func release(_ context: UnsafeMutableRawPointer?) {
            guard let context else { return }
            Unmanaged<EventHandler>.fromOpaque(context).release()
        }
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
