import NormCore
import NormFormats

/// What a daemon learns from its cluster worker, on the worker's thread: the counts its
/// operators read, the keys it owns (for a local copy of their state), and that the loop turns.
public protocol ClusterObserver: Sendable {
    /// A message to apply arrived (duplicates are not counted here).
    func received(bytes: Int)
    func published(bytes: Int, latencyMs: Double)
    /// A message of `key` was rejected (the daemon logs it within its rejection log's budget: a
    /// producer's flood of bad messages must not flood the journal).
    func rejected(_ rejection: Rejection, key: String)
    /// A rejected input's dead letter was published (sent) or could not ever be (dropped).
    func deadLettered(sent: Bool)
    /// A key's state of record is now `statistics` (nil for kinds without running statistics).
    func applied(key: String, channels: Int, statistics: RunningStatistics?)
    /// These keys' partition is no longer owned here.
    func released(keys: [String])
    /// The worker's loop turned (for the watchdog).
    func turned()
}
