import CZeroMQ

/// What a poll waits for on one socket or file descriptor.
public struct ZMQPollEvents: OptionSet, Sendable {
    public let rawValue: Int16
    public init(rawValue: Int16) { self.rawValue = rawValue }
    public static let readable = ZMQPollEvents(rawValue: Int16(ZMQ_POLLIN))
    public static let writable = ZMQPollEvents(rawValue: Int16(ZMQ_POLLOUT))
}

/// One `zmq_poll` item: a socket or a plain file descriptor (an eventfd, say).
public enum ZMQPollTarget {
    case socket(ZMQSocket)
    case fileDescriptor(Int32)
}

/// Waits on sockets and descriptors together. Returns what each item is ready for, in order.
public func zmqPoll(_ items: [(ZMQPollTarget, ZMQPollEvents)], timeoutMilliseconds: Int) throws(ZMQError) -> [ZMQPollEvents] {
    var raw = items.map { target, events -> zmq_pollitem_t in
        switch target {
        case .socket(let socket): zmq_pollitem_t(socket: socket.handle, fd: -1, events: events.rawValue, revents: 0)
        case .fileDescriptor(let fd): zmq_pollitem_t(socket: nil, fd: fd, events: events.rawValue, revents: 0)
        }
    }
    let count = Int32(raw.count)
    let result = withExtendedLifetime(items) { () -> Result<Void, ZMQError> in
        do throws(ZMQError) {
            try ZMQRaw.call("zmq_poll") { zmq_poll(&raw, count, timeoutMilliseconds) }
            return .success(())
        } catch {
            return .failure(error)
        }
    }
    try result.get()
    return raw.map { ZMQPollEvents(rawValue: $0.revents) }
}
