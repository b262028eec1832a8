import CZeroMQ

#if canImport(Glibc)
import Glibc
#endif

/// Every raw libzmq call that can fail goes through here, so errno is read at once and EINTR
/// is retried in one place.
enum ZMQRaw {
    @discardableResult
    static func call(_ context: @autoclosure () -> String, _ body: () -> Int32) throws(ZMQError) -> Int32 {
        while true {
            let result = body()
            if result >= 0 { return result }
            let code = zmq_errno()
            if code == EINTR { continue }
            throw ZMQError(code: code, context: context())
        }
    }

    static func pointer(_ context: @autoclosure () -> String, _ body: () -> UnsafeMutableRawPointer?) throws(ZMQError) -> UnsafeMutableRawPointer {
        guard let result = body() else { throw ZMQError(code: zmq_errno(), context: context()) }
        return result
    }
}

/// The libzmq version this process linked.
public func zmqVersion() -> (major: Int32, minor: Int32, patch: Int32) {
    var major: Int32 = 0
    var minor: Int32 = 0
    var patch: Int32 = 0
    zmq_version(&major, &minor, &patch)
    return (major, minor, patch)
}
