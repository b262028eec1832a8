import CZeroMQ

/// A failed libzmq call: errno as libzmq set it, its text, and what was being done.
public struct ZMQError: Error, Sendable, Equatable, CustomStringConvertible {
    public let code: Int32
    public let message: String
    public let context: String

    public init(code: Int32, context: String) {
        self.code = code
        self.message = String(cString: zmq_strerror(code))
        self.context = context
    }

    public var description: String { "\(context): \(message) (errno \(code))" }

    public var isAgain: Bool { code == EAGAIN }
    public var isTerminated: Bool { code == ETERM }
}
