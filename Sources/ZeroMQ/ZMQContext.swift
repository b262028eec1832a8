import CZeroMQ

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

    deinit { terminate() }
}
