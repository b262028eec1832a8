import Locking
import Synchronization

/// Running statistics per stream key (or one shared entry), safe to use from many lanes.
///
/// A key's batches go through `checkout` → normalize → `commit`; a key that was never committed
/// does not exist, so a rejected first batch fixes nothing. `reset` between checkout and commit
/// wins: the commit of a batch that started before the reset is dropped for the statistics.
public final class StatisticsStore: Sendable {
    /// One key's state as it can be listed and exported.
    public struct Entry: Sendable, Equatable {
        public var channels: Int
        /// nil for kinds that keep no running statistics.
        public var statistics: RunningStatistics?
        public var generation: UInt64
        public var lastUsed: UInt64
    }

    public struct Checkout: Sendable {
        public let key: String
        public let channels: Int
        public var statistics: RunningStatistics?
        let generation: UInt64?
    }

    /// The configured channel count; 0 learns it per key from the first accepted batch.
    public let configuredChannels: Int
    public let keepsStatistics: Bool
    /// The starting point of a new or reset key, given its channel count (the `init` file's values).
    public let seed: @Sendable (Int) -> RunningStatistics
    public let maxKeys: Int
    /// At `maxKeys`: refuse new keys (false) or evict the least recently used one (true).
    public let evictsLeastRecentlyUsed: Bool
    /// Where an evicted key's statistics are looked up when it returns.
    public let archive: (@Sendable (String) -> RunningStatistics?)?

    private struct State {
        var entries: [String: Entry] = [:]
        var clock: UInt64 = 0
    }
    private let state = ObservedMutex(State())

    public init(
        configuredChannels: Int, keepsStatistics: Bool, maxKeys: Int = 0, evictsLeastRecentlyUsed: Bool = false,
        archive: (@Sendable (String) -> RunningStatistics?)? = nil,
        seed: @escaping @Sendable (Int) -> RunningStatistics = { RunningStatistics.initial(channels: $0) }
    ) {
        self.archive = archive
        self.configuredChannels = configuredChannels
        self.keepsStatistics = keepsStatistics
        self.maxKeys = maxKeys
        self.evictsLeastRecentlyUsed = evictsLeastRecentlyUsed
        self.seed = seed
    }

    /// The statistics a batch of `channels` channels under `key` starts from.
    public func checkout(key: String, channels: Int) throws(StoreError) -> Checkout {
        if let entry = state.withLock({ $0.entries[key] }) {
            guard entry.channels == channels else { throw .channels(expected: entry.channels, got: channels) }
            return Checkout(key: key, channels: channels, statistics: entry.statistics, generation: entry.generation)
        }
        if configuredChannels != 0 && configuredChannels != channels {
            throw .channels(expected: configuredChannels, got: channels)
        }
        guard keepsStatistics else { return Checkout(key: key, channels: channels, statistics: nil, generation: nil) }
        // A key comes back from the archive outside the lock; only its own lane can commit it.
        let returning = archive?(key).flatMap { $0.channels == channels ? $0 : nil }
        return Checkout(key: key, channels: channels, statistics: returning ?? seed(channels), generation: nil)
    }

    /// Stores what a batch produced; creates the key on its first accepted batch. A new key
    /// beyond `maxKeys` is refused, or pushes out the least recently used key, which is returned.
    @discardableResult
    public func commit(_ checkout: Checkout) throws(StoreError) -> (key: String, entry: Entry)? {
        let result: Result<(key: String, entry: Entry)?, StoreError> = state.withLock { state in
            state.clock &+= 1
            let clock = state.clock
            if var entry = state.entries[checkout.key] {
                if entry.generation == checkout.generation { entry.statistics = checkout.statistics }
                entry.lastUsed = clock
                state.entries[checkout.key] = entry
                return .success(nil)
            }
            var victim: (key: String, entry: Entry)?
            if maxKeys > 0 && state.entries.count >= maxKeys {
                guard evictsLeastRecentlyUsed, let oldest = state.entries.min(by: { $0.value.lastUsed < $1.value.lastUsed }) else {
                    return .failure(.maxKeys(maxKeys))
                }
                state.entries[oldest.key] = nil
                victim = (oldest.key, oldest.value)
            }
            state.entries[checkout.key] = Entry(channels: checkout.channels, statistics: checkout.statistics, generation: 0, lastUsed: clock)
            return .success(victim)
        }
        return try result.get()
    }

    public var keys: [String] { state.withLock { $0.entries.keys.sorted() } }
    public var count: Int { state.withLock { $0.entries.count } }

    public func entry(_ key: String) -> Entry? { state.withLock { $0.entries[key] } }

    /// Every key's entry, sorted by key.
    public func snapshot() -> [(key: String, entry: Entry)] {
        state.withLock { $0.entries.sorted { $0.key < $1.key }.map { (key: $0.key, entry: $0.value) } }
    }

    /// Returns a key's statistics to the seed values; the key stays listed. False if unknown.
    @discardableResult
    public func reset(_ key: String) -> Bool {
        state.withLock { state in
            guard var entry = state.entries[key] else { return false }
            entry.statistics = keepsStatistics ? seed(entry.channels) : nil
            entry.generation &+= 1
            state.entries[key] = entry
            return true
        }
    }

    public func resetAll() {
        for key in keys { reset(key) }
    }

    /// Puts back state read from a checkpoint, replacing what the key had.
    public func restore(key: String, channels: Int, statistics: RunningStatistics?) {
        state.withLock { state in
            state.clock &+= 1
            let generation = (state.entries[key]?.generation ?? 0) &+ 1
            state.entries[key] = Entry(channels: channels, statistics: statistics, generation: generation, lastUsed: state.clock)
        }
    }

}

/// Why the store refused a batch.
public enum StoreError: Error, Sendable, Equatable, CustomStringConvertible {
    case channels(expected: Int, got: Int)
    case maxKeys(Int)

    public var description: String {
        switch self {
        case .channels(let expected, let got): "batch has \(got) channels, expected \(expected)"
        case .maxKeys(let limit): "new key beyond max_keys \(limit)"
        }
    }
}
