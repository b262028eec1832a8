/// Moves a non-Sendable value to another thread that becomes its only user.
struct UncheckedTransfer<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
