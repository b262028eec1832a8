import Synchronization

/// What a cluster worker has done, read by `ctl stats` and the metrics while it runs.
public final class ClusterCounters: Sendable {
    public let received = Atomic<Int>(0)
    public let published = Atomic<Int>(0)
    public let rejected = Atomic<Int>(0)
    /// Messages the server delivered again (ack_wait passed, or an owner died before acking).
    public let redeliveries = Atomic<Int>(0)
    /// Redelivered inputs whose sequence the key's state had already applied.
    public let duplicatesSkipped = Atomic<Int>(0)
    /// Messages read from the stream because a redelivery came before them (a dead owner's
    /// unacknowledged messages come back in no particular order).
    public let recovered = Atomic<Int>(0)
    /// Compare-and-set writes the bucket refused: another instance owns the key now.
    public let conflicts = Atomic<Int>(0)
    private let owned = Mutex<[Int]>([])

    public init() {}

    /// The partitions this worker holds the pin of, in order.
    public var partitionsOwned: [Int] { owned.withLock { $0 } }
    func setOwned(_ partitions: [Int]) { owned.withLock { $0 = partitions } }
}
