import CZeroMQ
import Dispatch

/// Owns a libzmq context. libzmq contexts are thread-safe, hence `@unchecked Sendable`.
public final class ZMQContext: @unchecked Sendable {
    let handle: UnsafeMutableRawPointer
    private var terminated = false

    public init(ioThreads: Int32 = 1) throws(ZMQError) {
        handle = try ZMQRaw.pointer("zmq_ctx_new") { zmq_ctx_new() }
        try ZMQRaw.call("zmq_ctx_set io_threads") { zmq_ctx_set(handle, ZMQ_IO_THREADS, ioThreads) }
    }

    /// Blocks until every socket is closed and lingering messages are sent (or their linger ran out).
    /// Call once, after all sockets of this context are closed.
    public func terminate() {
        guard !terminated else { return }
        terminated = true
        _ = try? ZMQRaw.call("zmq_ctx_term") { zmq_ctx_term(handle) }
    }

    /// `terminate()`, waiting at most `seconds`: false if libzmq had not let go of the context by
    /// then (it goes on trying on a thread of its own, and the context is not used again). A
    /// process that must exit on time calls this: libzmq's termination has been seen to wait
    /// forever with every socket closed and its linger long past (a peer connected over ipc://
    /// and idle; see zeromq/libzmq#2586 for the same report).
    public func terminate(within seconds: Double) -> Bool {
        guard !terminated else { return true }
        terminated = true
        let done = DispatchSemaphore(value: 0)
        let context = TerminatingContext(handle: handle)
        DispatchQueue.global().async {
            _ = try? ZMQRaw.call("zmq_ctx_term") { zmq_ctx_term(context.handle) }
            done.signal()
        }
        return done.wait(timeout: .now() + seconds) == .success
    }

    deinit { terminate() }
}

/// The handle of a context being terminated, handed to the thread that waits for libzmq:
/// `@unchecked Sendable` because libzmq contexts are thread-safe and nothing else uses it then.
private struct TerminatingContext: @unchecked Sendable {
    let handle: UnsafeMutableRawPointer
}
