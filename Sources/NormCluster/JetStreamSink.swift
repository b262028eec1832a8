import Logging
import NATS
import Synchronization

/// Publishes outputs on "<prefix>.<key>" with the header in `Normd-Header`, waiting for the
/// stream's acknowledgement; refuses what is over the server's `max_payload` before sending.
public final class JetStreamSink: Sendable {
    let jetStream: JetStream
    public let prefix: String
    /// Makes the output stream again when a publish finds none (an operator deleted it).
    let topology: JetStreamTopology
    let logger: Logger
    /// Messages published without their id because another message had taken it.
    private let withoutID = Atomic<Int>(0)

    /// A message over the server's limit; the caller rejects the batch with `too_large`.
    public struct TooLarge: Error, CustomStringConvertible {
        public let bytes: Int
        public let limit: Int
        public var description: String { "the output is \(bytes) bytes with its headers, over the server's max_payload of \(limit)" }
    }

    init(jetStream: JetStream, settings: ClusterSettings, logger: Logger) {
        self.jetStream = jetStream
        self.prefix = settings.outputPrefix
        self.topology = JetStreamTopology(settings: settings, jetStream: jetStream)
        self.logger = logger
    }

    /// Connects and creates the output stream when missing (a ZeroMQ-fed pipeline's output).
    public convenience init(urls: [String], stream: String, prefix: String, name: String, logger: Logger) throws(ClusterError) {
        var settings = ClusterSettings(pipeline: name, urls: urls)
        (settings.outputStream, settings.outputPrefix) = (stream, prefix)
        let jetStream: JetStream
        do {
            jetStream = try NATSConnection(urls: urls, name: "normd \(name)", onEvent: NATSConnection.logging(to: logger)).jetStream()
        } catch {
            throw ClusterError(.server, error.description, context: "connecting to NATS")
        }
        try JetStreamTopology(settings: settings, jetStream: jetStream).ensureOutputStream()
        self.init(jetStream: jetStream, settings: settings, logger: logger)
    }

    public var maxPayload: Int { jetStream.connection.maxPayload }
    /// False while libnats reconnects (it does for ever).
    public var isConnected: Bool { jetStream.connection.isConnected }

    /// Publishes one output (a ZeroMQ-fed pipeline's, with no message id).
    public func publish(key: String, header: [UInt8], payload: [UInt8]) throws {
        try publish(output(key: key, header: header, payload: payload, messageID: nil), messageID: nil)
    }

    /// Publishes one output once under `messageID` (`publishOnce`).
    public func publishOnce(key: String, header: [UInt8], payload: [UInt8], messageID: String) throws -> Stored {
        try publishOnce(output(key: key, header: header, payload: payload, messageID: messageID), messageID: messageID)
    }

    private func output(key: String, header: [UInt8], payload: [UInt8], messageID: String?) throws -> NATSMessage {
        // The header block: "NATS/1.0\r\n", each "Name: value\r\n", "\r\n".
        let size = payload.count + header.count + (messageID?.utf8.count ?? 0) + 64
        guard size <= maxPayload else { throw TooLarge(bytes: size, limit: maxPayload) }
        return NATSMessage(subject: "\(prefix).\(key)", headers: ["Normd-Header": String(decoding: header, as: UTF8.self)], body: payload)
    }

    /// What a publish with a message id did.
    public enum Stored: Equatable, Sendable {
        /// Stored under the id.
        case stored
        /// The stream holds this very message under the id already (a redelivered input's).
        case duplicate
        /// The id was taken by another message, which the stream no longer holds to compare:
        /// taken for a duplicate, not stored.
        case unverified
        /// The id was taken by another message (of an input stream since made anew, which
        /// numbers from 1 again): stored without an id.
        case storedWithoutID
    }

    /// Publishes `message` once under `messageID`. The server drops a message whose id it has
    /// seen within its duplicate window; the message it kept is compared, and when it is another
    /// one (the id reused), this message is published again without the id rather than lost.
    public func publishOnce(_ message: NATSMessage, messageID: String) throws -> Stored {
        let ack = try publish(message, messageID: messageID)
        guard ack.duplicate else { return .stored }
        let kept: NATSMessage?
        do {
            kept = try jetStream.message(in: ack.stream, sequence: ack.sequence)
        } catch {
            logger.debug("the message kept under a duplicate id was not read", metadata: ["id": "\(messageID)", "error": "\(error)"])
            kept = nil
        }
        guard let kept else { return .unverified }
        if kept.body == message.body && ["Normd-Header", "Normd-Reject"].allSatisfy({ kept.headers[$0] == message.headers[$0] }) { return .duplicate }
        try publish(message, messageID: nil)
        // After an input stream is made anew, every output for two minutes may come here: the
        // 1st, 2nd, 4th, 8th… are warned, with the count.
        let count = withoutID.add(1, ordering: .relaxed).newValue
        logger.log(
            level: count & (count - 1) == 0 ? .warning : .debug,
            "message id taken by another message within the output stream's duplicate window (was the input stream made anew?): published without an id",
            metadata: ["id": "\(messageID)", "kept_at": "\(ack.sequence)", "so_far": "\(count)"])
        return .storedWithoutID
    }

    /// Publishes `message` on the output stream; when no stream takes its subject (an operator
    /// deleted the output stream), makes the stream again and publishes once more.
    @discardableResult
    public func publish(_ message: NATSMessage, messageID: String?) throws -> JetStream.Acknowledgement {
        let jetStream = jetStream
        let first = Result { () throws(NATSError) in try jetStream.publish(message, messageID: messageID) }
        guard case .failure(let error) = first, error.isNoResponders else { return try first.get() }
        // No stream takes the subject: the output stream was deleted under us. (When it cannot
        // be made — JetStream is off — the error goes to the caller, whose log is rate-limited.)
        try topology.ensureOutputStream()
        logger.warning("the output stream was gone: made it again", metadata: ["stream": "\(topology.settings.outputStream ?? "")"])
        return try jetStream.publish(message, messageID: messageID)
    }
}
