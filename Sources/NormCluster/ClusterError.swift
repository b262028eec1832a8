/// What went wrong in cluster mode: a code, a message and what was being done.
public struct ClusterError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// The server is unreachable, or a request to it failed.
        case server
        /// The server lacks a feature cluster mode needs (nats-server ≥ 2.11).
        case serverTooOld = "server_too_old"
        /// A stream or consumer exists with a configuration that does not match ours.
        case topology
        /// A key's state in the bucket cannot be read.
        case state
    }

    public let code: Code
    public let message: String
    public let context: String

    public init(_ code: Code, _ message: String, context: String = "") {
        self.code = code
        self.message = message
        self.context = context
    }

    public var description: String { context.isEmpty ? message : "\(context): \(message)" }
}
