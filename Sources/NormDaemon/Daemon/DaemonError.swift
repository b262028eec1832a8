#if canImport(Glibc)
import Glibc
#endif

/// A failure of the daemon's own machinery (sockets, files, threads): a code, a message and context.
public struct DaemonError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        case system, socket, state, control, configuration
        /// Another daemon holds the state folder's lock (exit status 75, EX_TEMPFAIL).
        case alreadyRunning = "already_running"
    }

    /// EX_TEMPFAIL: another instance holds the state folder's lock.
    public static let alreadyRunningExitCode: Int32 = 75

    public let code: Code
    public let message: String
    public let errnoValue: Int32?

    public init(_ code: Code, _ message: String, errno: Int32? = nil) {
        self.code = code
        self.message = message
        self.errnoValue = errno
    }

    public var description: String {
        if let errnoValue { return "\(message): \(String(cString: strerror(errnoValue)))" }
        return message
    }
}
