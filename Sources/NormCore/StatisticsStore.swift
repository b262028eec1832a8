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
        /// With drift scored: how far the key's recent batches sit from its running statistics.
        public var drift: DriftState?

        /// A batch's results, unless a reset since its checkout made them stale; used either way.
        /// Returns the statistics they replaced.
        mutating func commit(_ checkout: Checkout, at clock: UInt64) -> RunningStatistics? {
            lastUsed = clock
            guard generation == checkout.generation else { return nil }
            defer {
                statistics = checkout.statistics
                drift = checkout.drift
            }
            return statistics
        }
    }

    public struct Checkout: Sendable {
        public let key: String
        public let channels: Int
        public var statistics: RunningStatistics?
        public var drift: DriftState?
        let generation: UInt64?
        /// The statistics came back from the archive (the key had been evicted).
        let returning: Bool
    }

    /// The configured channel count; 0 learns it per key from the first accepted batch.
    public let configuredChannels: Int
    public let keepsStatistics: Bool
    /// The starting point of a new or reset key, given its channel count (the `init` file's values).
    public let seed: @Sendable (Int) -> RunningStatistics
    public let maxKeys: Int
    /// At `maxKeys`: refuse new keys (false) or evict the least recently used one (true).
    public let evictsLeastRecentlyUsed: Bool
    /// Where evicted keys go, and are looked up when they return.
    public let archive: (any EvictionArchive)?

    private struct State {
        var entries: [ExactString: Entry] = [:]
        var clock: UInt64 = 0
        /// Counts every change to what a checkpoint writes.
        var revision: UInt64 = 0
        /// Statistics a commit replaced, whose arrays the next checkout writes its copy into: a
        /// batch's update then writes arrays nothing else holds, in place, where it made two new
        /// arrays for every batch (two mallocs, and a generic metadata lookup for each, per message).
        var spare: RunningStatistics?
    }
    private let state = ObservedMutex(State())

    public init(
        configuredChannels: Int, keepsStatistics: Bool, maxKeys: Int = 0, evictsLeastRecentlyUsed: Bool = false,
        archive: (any EvictionArchive)? = nil,
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
        let found = state.withLock { state -> (entry: Entry, spare: RunningStatistics?)? in
            guard let entry = state.entries[ExactString(key)] else { return nil }
            return (entry, entry.statistics?.channels == state.spare?.channels ? state.spare.take() : nil)
        }
        if var found {
            guard found.entry.channels == channels else { throw .channels(expected: found.entry.channels, got: channels) }
            var statistics = found.entry.statistics.take()
            // A copy in the spare's arrays, which nothing else holds; without one, the stored
            // arrays themselves (the update then copies them before it writes).
            if let stored = statistics, var spare = found.spare.take() {
                statistics = nil
                spare.assign(stored)
                statistics = spare
            }
            return Checkout(key: key, channels: channels, statistics: statistics, drift: found.entry.drift, generation: found.entry.generation, returning: false)
        }
        if configuredChannels != 0 && configuredChannels != channels {
            throw .channels(expected: configuredChannels, got: channels)
        }
        guard keepsStatistics else { return Checkout(key: key, channels: channels, statistics: nil, drift: nil, generation: nil, returning: false) }
        // A key comes back from the archive outside the lock; only its own lane can commit it.
        let returning = archive?.lookup(key: key).flatMap { $0.channels == channels ? $0 : nil }
        return Checkout(key: key, channels: channels, statistics: returning ?? seed(channels), drift: nil, generation: nil, returning: returning != nil)
    }

    /// Stores what a batch produced; creates the key on its first accepted batch. A new key
    /// beyond `maxKeys` is refused, or takes the place of the least recently used key once the
    /// archive has kept that key's statistics; if it cannot, the old key stays and the new one is
    /// refused, so nothing is lost.
    public func commit(_ checkout: Checkout) throws(StoreError) {
        let result: Result<Void, StoreError> = state.withLock { state in
            state.clock &+= 1
            state.revision &+= 1
            let clock = state.clock
            let key = ExactString(checkout.key)
            // A known key is updated where it lies: one lookup, and no copy of its entry.
            if let index = state.entries.index(forKey: key) {
                let replaced = state.entries.values[index].commit(checkout, at: clock)
                if state.spare == nil { state.spare = replaced }
                return .success(())
            }
            if maxKeys > 0 && state.entries.count >= maxKeys {
                guard evictsLeastRecentlyUsed, let archive, let oldest = state.entries.min(by: { $0.value.lastUsed < $1.value.lastUsed }) else {
                    return .failure(.maxKeys(maxKeys))
                }
                if let statistics = oldest.value.statistics {
                    // Under the lock, so no lane can change the leaving key while it is written.
                    do {
                        try archive.keep(key: oldest.key.string, statistics: statistics)
                    } catch {
                        return .failure(.archive(maxKeys, "\(error)"))
                    }
                }
                state.entries[oldest.key] = nil
            }
            if checkout.returning { archive?.forget(key: checkout.key) }
            state.entries[key] = Entry(channels: checkout.channels, statistics: checkout.statistics, generation: 0, lastUsed: clock, drift: checkout.drift)
            return .success(())
        }
        try result.get()
    }

    /// Every key, in byte order.
    public var keys: [String] { state.withLock { $0.entries.keys.sorted().map(\.string) } }
    public var count: Int { state.withLock { $0.entries.count } }

    /// At most `limit` keys (all without one) after `after` in byte order, and the last key given
    /// when more remain. Copies only the page's entries.
    public func page(after: String?, limit: Int?) -> (entries: [(key: String, entry: Entry)], next: String?) {
        state.withLock { state in
            var keys = state.entries.keys.sorted()
            if let after {
                let bound = ExactString(after)
                keys = Array(keys[(keys.firstIndex { bound < $0 } ?? keys.endIndex)...])
            }
            let shown = limit.map { Array(keys.prefix($0)) } ?? keys
            let next = shown.count < keys.count ? shown.last?.string : nil
            return (shown.map { (key: $0.string, entry: state.entries[$0]!) }, next)
        }
    }

    public func entry(_ key: String) -> Entry? { state.withLock { $0.entries[ExactString(key)] } }

    /// Every key's entry, in the keys' byte order. Sorted after the lock is released: the copy
    /// under it is the dictionary's (copy-on-write) reference, so lanes wait for nothing.
    public func snapshot() -> [(key: String, entry: Entry)] {
        entriesByKey.sorted { $0.key < $1.key }.map { (key: $0.key.string, entry: $0.value) }
    }

    /// Every key's entry, unordered.
    public var entriesByKey: [ExactString: Entry] { state.withLock { $0.entries } }

    /// Grows with every change a checkpoint would write (a commit, reset or restore): equal
    /// revisions mean equal statistics.
    public var revision: UInt64 { state.withLock { $0.revision } }

    /// Returns a key's statistics to the seed values; the key stays listed. False if unknown.
    @discardableResult
    public func reset(_ key: String) -> Bool {
        state.withLock { state in
            let key = ExactString(key)
            guard var entry = state.entries[key] else { return false }
            state.revision &+= 1
            entry.statistics = keepsStatistics ? seed(entry.channels) : nil
            entry.drift = nil
            entry.generation &+= 1
            state.entries[key] = entry
            return true
        }
    }

    public func resetAll() {
        for key in keys { reset(key) }
    }

    /// Drops keys (another instance owns them now); unknown keys are ignored.
    public func remove(_ keys: [String]) {
        state.withLock { state in
            state.revision &+= 1
            for key in keys { state.entries[ExactString(key)] = nil }
        }
    }

    /// Puts back state read from a checkpoint, replacing what the key had.
    public func restore(key: String, channels: Int, statistics: RunningStatistics?) {
        state.withLock { state in
            state.clock &+= 1
            state.revision &+= 1
            let key = ExactString(key)
            let generation = (state.entries[key]?.generation ?? 0) &+ 1
            state.entries[key] = Entry(channels: channels, statistics: statistics, generation: generation, lastUsed: state.clock)
        }
    }

}

/// Why the store refused a batch.
public enum StoreError: Error, Sendable, Equatable, CustomStringConvertible {
    case channels(expected: Int, got: Int)
    case maxKeys(Int)
    /// At `max_keys` with eviction, but the least recently used key could not be archived.
    case archive(Int, String)

    public var description: String {
        switch self {
        case .channels(let expected, let got): "batch has \(got) channels, expected \(expected)"
        case .maxKeys(let limit): "new key beyond max_keys \(limit)"
        case .archive(let limit, let why): "new key beyond max_keys \(limit): the least recently used key stays in memory, its state cannot be written (\(why))"
        }
    }
}
