import CZeroMQ

/// libzmq's built-in proxy: moves messages from `frontend` to `backend` until the context is
/// terminated. Blocks the calling thread.
public func zmqProxy(frontend: ZMQSocket, backend: ZMQSocket) throws(ZMQError) {
    try ZMQRaw.call("zmq_proxy") { zmq_proxy(frontend.handle, backend.handle, nil) }
}
