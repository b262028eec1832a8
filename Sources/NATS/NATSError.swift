import CNats

/// A failed libnats call: its status, libnats's text for it (with the last error's detail when
/// there is one), the JetStream API error code when the server gave one, and what was being done.
public struct NATSError: Error, Sendable, Equatable, CustomStringConvertible {
    public let status: Int32
    public let message: String
    public let context: String
    /// The JetStream error code (`err_code`), 0 when the server gave none.
    public let jetStreamCode: Int

    public init(status: Int32, message: String, context: String, jetStreamCode: Int = 0) {
        self.status = status
        self.message = message
        self.context = context
        self.jetStreamCode = jetStreamCode
    }

    public var description: String {
        "\(context): \(message)" + (jetStreamCode != 0 ? " (JetStream error \(jetStreamCode))" : "")
    }

    public var isTimeout: Bool { status == Int32(NATS_TIMEOUT.rawValue) }
    public var isNotFound: Bool { status == Int32(NATS_NOT_FOUND.rawValue) }
    /// A compare-and-set refused: the key's revision is not the one given.
    public var isWrongRevision: Bool { jetStreamCode == NATSError.wrongLastSequence }
    /// A stream at its `max_msgs` with discard "new" refused a message: for a key-value bucket, a
    /// new key beyond its limit (an existing key's update replaces its one message).
    public var isStreamFull: Bool { jetStreamCode == NATSError.maximumMessages }
    /// Nobody subscribes to the request's subject (for `$JS.API.*`: JetStream is off).
    public var isNoResponders: Bool { status == Int32(NATS_NO_RESPONDERS.rawValue) }
    public var isConnectionClosed: Bool { status == Int32(NATS_CONNECTION_CLOSED.rawValue) }

    /// libnats could not make the request or read its reply (`NATS_ERR`, `NATS_PROTOCOL_ERROR`,
    /// `NATS_INVALID_ARG`): a matter of the content, not of the connection.
    public var isUnreadable: Bool {
        [NATS_ERR, NATS_PROTOCOL_ERROR, NATS_INVALID_ARG].contains { status == Int32($0.rawValue) }
    }

    /// JetStream's "wrong last sequence" (10071): the compare-and-set of a key-value update.
    static let wrongLastSequence = 10071
    /// JetStream's "maximum messages exceeded" (10077).
    static let maximumMessages = 10077
}
