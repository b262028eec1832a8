import CNats

/// A synchronous subscription: messages wait in libnats's queue until `next` takes them. Owns
/// libnats's `natsSubscription`.
///
/// `@unchecked Sendable`: libnats subscriptions lock inside; this class only holds the pointers,
/// set once. One thread at a time should call `next`.
public final class NATSSubscription: @unchecked Sendable {
    let raw: OpaquePointer
    /// Keeps the connection alive as long as the subscription.
    let connection: NATSConnection

    init(raw: OpaquePointer, connection: NATSConnection) {
        self.raw = raw
        self.connection = connection
    }

    deinit {
        natsSubscription_Unsubscribe(raw)
        natsSubscription_Destroy(raw)
    }

    /// The next message, or nil when none came within `timeout` seconds.
    public func next(timeout: Double) throws(NATSError) -> NATSMessage? {
        var message: OpaquePointer?
        let status = natsSubscription_NextMsg(&message, raw, max(1, Int64(timeout * 1000)))
        if status == NATS_TIMEOUT { return nil }
        guard status == NATS_OK, let message else { throw NATSRaw.error(status, "waiting on a subscription") }
        return NATSMessage(consuming: message)
    }
}
