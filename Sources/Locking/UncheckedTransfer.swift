/// A non-Sendable value handed to another thread: `@unchecked` because the sender stops using it
/// (a ZeroMQ socket moved to the thread that owns it, a message frame moved to a lane) or nobody
/// writes it any more (a filled payload buffer shared read-only). Each use says which.
public struct UncheckedTransfer<Value>: @unchecked Sendable {
    public let value: Value
    public init(_ value: Value) { self.value = value }
}
