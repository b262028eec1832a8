/// Where `evict_lru` keeps the keys that leave memory, and finds them when they return.
public protocol EvictionArchive: Sendable {
    /// Keeps a leaving key's statistics; throws when they cannot be kept — the key then stays in
    /// memory, and the new key that needed its place is refused.
    func keep(key: String, statistics: RunningStatistics) throws
    /// The statistics of an archived key, or nil.
    func lookup(key: String) -> RunningStatistics?
    /// The key is back in memory: its archived copy no longer counts.
    func forget(key: String)
}
