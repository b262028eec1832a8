import CZeroMQ

/// The socket types a pipeline uses.
public enum ZMQSocketType: Sendable {
    case pub, sub, push, pull, pair, xpub, router, dealer, rep, req

    var raw: Int32 {
        switch self {
        case .pub: ZMQ_PUB
        case .sub: ZMQ_SUB
        case .push: ZMQ_PUSH
        case .pull: ZMQ_PULL
        case .pair: ZMQ_PAIR
        case .xpub: ZMQ_XPUB
        case .router: ZMQ_ROUTER
        case .dealer: ZMQ_DEALER
        case .rep: ZMQ_REP
        case .req: ZMQ_REQ
        }
    }
}

/// Owns a libzmq socket. Not Sendable: a socket is created and used on one thread.
public final class ZMQSocket {
    let handle: UnsafeMutableRawPointer
    private var closed = false
    public let type: ZMQSocketType

    public init(_ context: ZMQContext, _ type: ZMQSocketType) throws(ZMQError) {
        self.type = type
        handle = try ZMQRaw.pointer("zmq_socket") { zmq_socket(context.handle, type.raw) }
    }

    public func set(_ option: Int32, _ value: Int32) throws(ZMQError) {
        var value = value
        try ZMQRaw.call("zmq_setsockopt \(option)") { zmq_setsockopt(handle, option, &value, MemoryLayout<Int32>.size) }
    }

    public func set(_ option: Int32, int64 value: Int64) throws(ZMQError) {
        var value = value
        try ZMQRaw.call("zmq_setsockopt \(option)") { zmq_setsockopt(handle, option, &value, MemoryLayout<Int64>.size) }
    }

    public func set(_ option: Int32, bytes: [UInt8]) throws(ZMQError) {
        try ZMQRaw.call("zmq_setsockopt \(option)") {
            bytes.withUnsafeBytes { zmq_setsockopt(handle, option, $0.baseAddress, $0.count) }
        }
    }

    public func set(_ option: Int32, string: String) throws(ZMQError) {
        try set(option, bytes: Array(string.utf8))
    }

    public func getInt32(_ option: Int32) throws(ZMQError) -> Int32 {
        var value: Int32 = 0
        var size = MemoryLayout<Int32>.size
        try ZMQRaw.call("zmq_getsockopt \(option)") { zmq_getsockopt(handle, option, &value, &size) }
        return value
    }

    /// Send and receive high-water marks, in messages; apply before bind/connect.
    public func setHighWaterMarks(send: Int32? = nil, receive: Int32? = nil) throws(ZMQError) {
        if let send { try set(ZMQ_SNDHWM, send) }
        if let receive { try set(ZMQ_RCVHWM, receive) }
    }

    public func setLinger(milliseconds: Int32) throws(ZMQError) { try set(ZMQ_LINGER, milliseconds) }
    public func subscribe(_ prefix: [UInt8]) throws(ZMQError) { try set(ZMQ_SUBSCRIBE, bytes: prefix) }
    public func setMaxMessageSize(_ bytes: Int64) throws(ZMQError) { try set(ZMQ_MAXMSGSIZE, int64: bytes) }

    public func bind(_ endpoint: String) throws(ZMQError) {
        try ZMQRaw.call("bind \(endpoint)") { zmq_bind(handle, endpoint) }
    }

    public func connect(_ endpoint: String) throws(ZMQError) {
        try ZMQRaw.call("connect \(endpoint)") { zmq_connect(handle, endpoint) }
    }

    /// The endpoint actually bound (resolves `tcp://127.0.0.1:*`).
    public var lastEndpoint: String {
        var buffer = [CChar](repeating: 0, count: 512)
        var size = buffer.count
        _ = zmq_getsockopt(handle, ZMQ_LAST_ENDPOINT, &buffer, &size)
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Receives one frame into `message`. Returns false when `dontWait` and nothing is queued.
    public func receive(into message: ZMQMessage, dontWait: Bool = false) throws(ZMQError) -> Bool {
        do {
            try ZMQRaw.call("zmq_msg_recv") { zmq_msg_recv(message.pointer, handle, dontWait ? ZMQ_DONTWAIT : 0) }
            return true
        } catch  where error.isAgain {
            return false
        }
    }

    /// Sends `message` (which libzmq empties). Returns false when `dontWait` and the socket is full
    /// or, for a blocking send, its ZMQ_SNDTIMEO ran out.
    public func send(_ message: ZMQMessage, more: Bool = false, dontWait: Bool = false) throws(ZMQError) -> Bool {
        let flags = (more ? ZMQ_SNDMORE : 0) | (dontWait ? ZMQ_DONTWAIT : 0)
        do {
            try ZMQRaw.call("zmq_msg_send") { zmq_msg_send(message.pointer, handle, flags) }
            return true
        } catch  where error.isAgain {
            return false
        }
    }

    /// Sends every frame; returns false if the first frame could not be queued (nothing was sent).
    /// Once the first frame is accepted the rest of a multipart message always follows it.
    public func send(multipart frames: [ZMQMessage], dontWait: Bool = false) throws(ZMQError) -> Bool {
        for (index, frame) in frames.enumerated() {
            let last = index == frames.count - 1
            let sent = try send(frame, more: !last, dontWait: index == 0 ? dontWait : false)
            if !sent && index == 0 { return false }
        }
        return true
    }

    /// Receives one whole multipart message, keeping at most `maxFrames` frames; the rest are
    /// received and released at once so a peer cannot make us hold them. `frameCount` is the real count.
    public func receiveMultipart(maxFrames: Int, dontWait: Bool = true) throws(ZMQError) -> (frames: [ZMQMessage], frameCount: Int)? {
        var frames: [ZMQMessage] = []
        frames.reserveCapacity(maxFrames)
        var count = 0
        while true {
            let message = ZMQMessage()
            let got = try receive(into: message, dontWait: dontWait && count == 0)
            if !got { return nil }
            count += 1
            let more = message.hasMore
            if frames.count < maxFrames { frames.append(message) }
            if !more { return (frames, count) }
        }
    }

    /// Receives one whole multipart message into `frames` (reused: their previous contents are
    /// released), keeping at most `frames.count` frames; the rest are received and released at
    /// once. Returns the real frame count, or nil when `dontWait` and nothing is queued.
    /// Reusing the messages saves allocating three per received message on the hot path.
    public func receiveMultipart(into frames: [ZMQMessage], dontWait: Bool = true) throws(ZMQError) -> Int? {
        var count = 0
        var overflow: ZMQMessage?
        while true {
            let message: ZMQMessage
            if count < frames.count {
                message = frames[count]
            } else {
                if overflow == nil { overflow = ZMQMessage() }
                message = overflow!
            }
            let got = try receive(into: message, dontWait: dontWait && count == 0)
            if !got { return nil }
            count += 1
            if !message.hasMore { return count }
        }
    }

    public func close(lingerMilliseconds: Int32? = nil) {
        guard !closed else { return }
        if let lingerMilliseconds { try? setLinger(milliseconds: lingerMilliseconds) }
        closed = true
        zmq_close(handle)
    }

    deinit { close() }
}
