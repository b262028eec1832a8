/// A message refused with one reason and a human-readable detail.
public struct Rejection: Error, Sendable, Equatable {
    public let reason: RejectReason
    public let detail: String

    public init(_ reason: RejectReason, _ detail: String) {
        self.reason = reason
        self.detail = detail
    }
}
