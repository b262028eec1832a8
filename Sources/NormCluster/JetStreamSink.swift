import Logging
import NATS

/// Publishes outputs on "<prefix>.<key>" with the header in `Normd-Header`, waiting for the
/// stream's acknowledgement; refuses what is over the server's `max_payload` before sending.
public final class JetStreamSink: Sendable {
    let jetStream: JetStream
    public let prefix: String
    /// Makes the output stream again when a publish finds none (an operator deleted it).
    let topology: JetStreamTopology
    let logger: Logger

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

    /// Publishes one output; with `messageID`, a second publish of it is dropped by the server.
    @discardableResult
    public func publish(key: String, header: [UInt8], payload: [UInt8], messageID: String? = nil) throws -> JetStream.Acknowledgement {
        // The header block: "NATS/1.0\r\n", each "Name: value\r\n", "\r\n".
        let size = payload.count + header.count + (messageID?.utf8.count ?? 0) + 64
        guard size <= maxPayload else { throw TooLarge(bytes: size, limit: maxPayload) }
        let message = NATSMessage(subject: "\(prefix).\(key)", headers: ["Normd-Header": String(decoding: header, as: UTF8.self)], body: payload)
        return try publish(message, messageID: messageID)
    }

    /// Publishes `message` on the output stream; when no stream takes its subject (an operator
    /// deleted the output stream), makes the stream again and publishes once more.
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
