import Foundation
import Testing

@testable import NormCore

@Suite("The statistics store")
struct StoreTests {
    @Test("keys learn channels on commit, reset returns to the seed, a reset wins over a batch in flight")
    func store() throws {
        let store = StatisticsStore(configuredChannels: 0, keepsStatistics: true, maxKeys: 2)
        var a = try store.checkout(key: "a", channels: 3)
        #expect(store.keys.isEmpty, "a checkout alone creates nothing")
        a.statistics!.batchesTracked = 5
        try store.commit(a)
        #expect(throws: StoreError.channels(expected: 3, got: 4)) { try store.checkout(key: "a", channels: 4) }
        var inFlight = try store.checkout(key: "a", channels: 3)
        store.reset("a")
        inFlight.statistics!.batchesTracked = 99
        try store.commit(inFlight)
        #expect(store.entry("a")?.statistics?.batchesTracked == 0)
        try store.commit(try store.checkout(key: "b", channels: 3))
        #expect(throws: StoreError.maxKeys(2)) { try store.commit(try store.checkout(key: "c", channels: 3)) }
        #expect(store.keys == ["a", "b"])
        let archive = MemoryArchive()
        let evicting = StatisticsStore(configuredChannels: 3, keepsStatistics: true, maxKeys: 2, evictsLeastRecentlyUsed: true, archive: archive)
        for key in ["a", "b", "a"] { try evicting.commit(try evicting.checkout(key: key, channels: 3)) }
        try evicting.commit(try evicting.checkout(key: "c", channels: 3))
        #expect(evicting.keys == ["a", "c"])
        #expect(archive.keys == ["b"], "the least recently used key went to the archive")
    }

    @Test("a checkout's statistics are a copy: written in place they change nothing stored until committed, across keys sharing the recycled arrays")
    func checkoutIsolation() throws {
        let store = StatisticsStore(configuredChannels: 0, keepsStatistics: true)
        for key in ["a", "b"] {
            var first = try store.checkout(key: key, channels: 2)
            first.statistics!.mean = [1, 2]
            try store.commit(first)
        }
        for round in 1...4 {
            for key in ["a", "b"] {
                let stored = try #require(store.entry(key)?.statistics)
                var checkout = try store.checkout(key: key, channels: 2)
                #expect(checkout.statistics == stored, "the checkout starts from what is stored")
                checkout.statistics!.mean.withUnsafeMutableBufferPointer { $0[0] += 10 }
                checkout.statistics!.variance.withUnsafeMutableBufferPointer { $0[1] = Double(round) }
                checkout.statistics!.batchesTracked += 1
                #expect(store.entry(key)?.statistics == stored, "round \(round) \(key): written before its commit")
                let snapshot = store.snapshot()
                try store.commit(checkout)
                #expect(store.entry(key)?.statistics == checkout.statistics)
                #expect(snapshot.first { $0.key == key }?.entry.statistics == stored, "a snapshot keeps what it saw")
            }
        }
        #expect(store.entry("a")?.statistics == RunningStatistics(mean: [41, 2], variance: [1, 4], batchesTracked: 4))
        #expect(store.entry("b")?.statistics == RunningStatistics(mean: [41, 2], variance: [1, 4], batchesTracked: 4))
    }

    @Test("eviction keeps the leaving key in memory and refuses the new one when the archive cannot write; a returning key leaves the archive")
    func evictionFailure() throws {
        let archive = MemoryArchive()
        let store = StatisticsStore(configuredChannels: 3, keepsStatistics: true, maxKeys: 1, evictsLeastRecentlyUsed: true, archive: archive)
        var a = try store.checkout(key: "a", channels: 3)
        a.statistics!.batchesTracked = 7
        try store.commit(a)
        archive.failing = true
        #expect(throws: StoreError.archive(1, "disk full")) { try store.commit(try store.checkout(key: "b", channels: 3)) }
        #expect(store.keys == ["a"] && store.entry("a")?.statistics?.batchesTracked == 7, "nothing was lost")
        archive.failing = false
        try store.commit(try store.checkout(key: "b", channels: 3))
        #expect(store.keys == ["b"] && archive.keys == ["a"])
        let back = try store.checkout(key: "a", channels: 3)
        #expect(back.statistics?.batchesTracked == 7, "the returning key continues from its archived statistics")
        try store.commit(back)
        #expect(store.keys == ["a"] && archive.keys == ["b"], "a returned key is forgotten by the archive")
    }

    @Test("keys are their bytes: NFC and NFD spellings of one name are two keys, listed in byte order")
    func keysAreBytes() throws {
        let store = StatisticsStore(configuredChannels: 1, keepsStatistics: true)
        let nfc = "\u{F1}"
        let nfd = "n\u{303}"
        #expect(nfc == nfd, "Swift's String calls them equal; the store must not")
        var first = try store.checkout(key: nfc, channels: 1)
        first.statistics!.batchesTracked = 1
        try store.commit(first)
        var second = try store.checkout(key: nfd, channels: 1)
        #expect(second.statistics?.batchesTracked == 0, "the NFD key started from its own initial statistics")
        second.statistics!.batchesTracked = 5
        try store.commit(second)
        #expect(store.count == 2)
        #expect(store.keys.map { Array($0.utf8) } == [[0x6E, 0xCC, 0x83], [0xC3, 0xB1]])
        #expect(store.entry(nfc)?.statistics?.batchesTracked == 1 && store.entry(nfd)?.statistics?.batchesTracked == 5)
    }
}

/// An archive in memory that can be told to fail, as a full disk would.
final class MemoryArchive: EvictionArchive, @unchecked Sendable {
    // @unchecked: every access goes through `lock`.
    private let lock = NSLock()
    private var stored: [ExactString: RunningStatistics] = [:]
    private var _failing = false

    var failing: Bool {
        get { lock.withLock { _failing } }
        set { lock.withLock { _failing = newValue } }
    }
    var keys: [String] { lock.withLock { stored.keys.sorted().map(\.string) } }

    struct DiskFull: Error, CustomStringConvertible { var description: String { "disk full" } }

    func keep(key: String, statistics: RunningStatistics) throws {
        try lock.withLock {
            if _failing { throw DiskFull() }
            stored[ExactString(key)] = statistics
        }
    }
    func lookup(key: String) -> RunningStatistics? { lock.withLock { stored[ExactString(key)] } }
    func forget(key: String) { lock.withLock { stored[ExactString(key)] = nil } }
}
