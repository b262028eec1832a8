import CZeroMQ

/// Owns one `zmq_msg_t` in memory of its own (a `zmq_msg_t` must never move).
///
/// Frame bytes are reachable only inside `withUnsafeBytes`, which keeps the message alive for
/// the closure's duration: a received frame's memory belongs to libzmq and dies with the message.
public final class ZMQMessage {
    let pointer: UnsafeMutablePointer<zmq_msg_t>

    /// An empty message, ready to receive into.
    public init() {
        pointer = .allocate(capacity: 1)
        zmq_msg_init(pointer)
    }

    /// A message of `size` bytes for the caller to fill.
    init(size: Int) throws(ZMQError) {
        pointer = .allocate(capacity: 1)
        do {
            try ZMQRaw.call("zmq_msg_init_size") { zmq_msg_init_size(pointer, size) }
        } catch {
            pointer.deallocate()
            throw error
        }
    }

    /// A message holding a copy of `bytes`.
    public convenience init(copying bytes: UnsafeRawBufferPointer) throws(ZMQError) {
        try self.init(size: bytes.count)
        fill(from: bytes)
    }

    public convenience init(_ bytes: [UInt8]) throws(ZMQError) {
        try self.init(size: bytes.count)
        bytes.withUnsafeBytes { fill(from: $0) }
    }

    public convenience init(string: String) throws(ZMQError) {
        var text = string
        try self.init(size: text.utf8.count)
        text.withUTF8 { fill(from: UnsafeRawBufferPointer($0)) }
    }

    private func fill(from bytes: UnsafeRawBufferPointer) {
        if let base = bytes.baseAddress, bytes.count > 0 { zmq_msg_data(pointer).copyMemory(from: base, byteCount: bytes.count) }
    }

    /// Replaces what this message holds with a copy of `bytes`, to reuse the message for another
    /// send (whatever it held — a frame not sent — is released first).
    public func refill(copying bytes: UnsafeRawBufferPointer) throws(ZMQError) {
        try refill(size: bytes.count)
        fill(from: bytes)
    }

    public func refill(copying bytes: [UInt8]) throws(ZMQError) {
        try refill(size: bytes.count)
        bytes.withUnsafeBytes { fill(from: $0) }
    }

    public func refill(copying string: String) throws(ZMQError) {
        var text = string
        try refill(size: text.utf8.count)
        text.withUTF8 { fill(from: UnsafeRawBufferPointer($0)) }
    }

    private func refill(size: Int) throws(ZMQError) {
        zmq_msg_close(pointer)
        do {
            try ZMQRaw.call("zmq_msg_init_size") { zmq_msg_init_size(pointer, size) }
        } catch {
            zmq_msg_init(pointer)
            throw error
        }
    }

    /// Replaces what this message holds with `buffer`'s bytes, zero-copy as `init(sending:)`.
    public func refill(sending buffer: ZMQBuffer) throws(ZMQError) {
        zmq_msg_close(pointer)
        do {
            try initData(buffer)
        } catch {
            zmq_msg_init(pointer)
            throw error
        }
    }

    /// Replaces what this message holds with what `other` held, leaving `other` empty
    /// (zmq_msg_move, no copy): to send a received frame on from a reused message.
    public func refill(taking other: ZMQMessage) {
        zmq_msg_close(pointer)
        zmq_msg_init(pointer)
        // Fails only for an invalid message, which neither is: both are initialized.
        _ = zmq_msg_move(pointer, other.pointer)
    }

    /// The bytes of a received message, to change in place before it is sent on. The caller must
    /// know the memory is the message's alone: a frame received over tcp:// or ipc:// is libzmq's
    /// own copy, but one from an inproc:// peer may be that peer's zero-copy buffer.
    public func withUnsafeMutableBytes<R, E: Error>(_ body: (UnsafeMutableRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try withExtendedLifetime(self) { () throws(E) -> R in
            try body(UnsafeMutableRawBufferPointer(start: zmq_msg_data(pointer), count: zmq_msg_size(pointer)))
        }
    }

    /// A message holding what `other` held; `other` is left empty (zmq_msg_move, no copy).
    public init(taking other: ZMQMessage) {
        pointer = .allocate(capacity: 1)
        zmq_msg_init(pointer)
        // Fails only for an invalid message, which neither is: both are initialized.
        _ = zmq_msg_move(pointer, other.pointer)
    }

    /// A zero-copy message over `buffer`'s bytes: libzmq reads them in place and releases the
    /// buffer from its I/O thread once sent. The buffer must not change after this.
    public init(sending buffer: ZMQBuffer) throws(ZMQError) {
        pointer = .allocate(capacity: 1)
        do {
            try initData(buffer)
        } catch {
            pointer.deallocate()
            throw error
        }
    }

    /// Initializes the (uninitialized or closed) message over `buffer`, which libzmq releases.
    private func initData(_ buffer: ZMQBuffer) throws(ZMQError) {
        let hint = Unmanaged.passRetained(buffer).toOpaque()
        do {
            try ZMQRaw.call("zmq_msg_init_data") {
                zmq_msg_init_data(pointer, buffer.bytes, buffer.count, releaseBuffer, hint)
            }
        } catch {
            Unmanaged<ZMQBuffer>.fromOpaque(hint).release()
            throw error
        }
    }

    public var count: Int { zmq_msg_size(pointer) }

    /// Whether more frames of the same multipart message follow this one.
    public var hasMore: Bool { zmq_msg_more(pointer) != 0 }

    public func withUnsafeBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try withExtendedLifetime(self) { () throws(E) -> R in
            try body(UnsafeRawBufferPointer(start: zmq_msg_data(pointer), count: zmq_msg_size(pointer)))
        }
    }

    public var bytes: [UInt8] { withUnsafeBytes { Array($0) } }

    deinit {
        zmq_msg_close(pointer)
        pointer.deallocate()
    }
}

/// Runs on a libzmq I/O thread when a zero-copy message is done with its buffer.
private func releaseBuffer(_ data: UnsafeMutableRawPointer?, _ hint: UnsafeMutableRawPointer?) {
    guard let hint else { return }
    ZMQBuffer.released(hint)
}
