import Foundation
import Testing
@testable import NormCore

/// A deterministic generator so property tests need no fixtures and never flake.
struct SplitMix64 {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Roughly normal values (sum of uniforms), enough for moments tests.
    mutating func normal(mean: Double, std: Double) -> Double {
        var s = 0.0
        for _ in 0..<12 { s += Double(next() >> 11) / Double(1 << 53) }
        return mean + (s - 6) * std
    }
}

func randomFloats(_ count: Int, seed: UInt64, mean: Double = 0, std: Double = 1) -> [Float] {
    var rng = SplitMix64(state: seed)
    return (0..<count).map { _ in Float(rng.normal(mean: mean, std: std)) }
}

func normalize(
    _ values: [Float], shape: [Int], settings: NormSettings, layout: TensorLayout = .nchw, mode: NormMode = .train,
    threads: Int = 1, grain: Int = 32_768, statistics: inout RunningStatistics?, affine: Affine? = nil
) throws -> [Float] {
    let normalizer = Normalizer(settings: settings, threads: threads, minimumElementsPerWorker: grain)
    let descriptor = TensorDescriptor(dtype: .float32, layout: layout, geometry: try TensorGeometry(shape: shape))
    var output = [Float](repeating: .nan, count: values.count)
    _ = try values.withUnsafeBytes { input in
        try output.withUnsafeMutableBytes { output in
            try normalizer.normalize(input, as: descriptor, into: output, outputDType: .float32, mode: mode, affine: affine, statistics: &statistics)
        }
    }
    return output
}

@Suite("Properties of the normalization")
struct PropertyTests {
    @Test("outputs have mean 0 and variance 1 per partition", arguments: NormKind.allCases)
    func standardized(kind: NormKind) throws {
        let shape = [4, 8, 16, 16]
        let x = randomFloats(shape.reduce(1, *), seed: 7, mean: 3, std: 2)
        let settings = NormSettings(kind: kind, groups: 4)
        var stats: RunningStatistics? = settings.hasRunningStatistics ? .initial(channels: 8) : nil
        let y = try normalize(x, shape: shape, settings: settings, statistics: &stats)
        let plan = BatchPlan(kind: kind, geometry: try TensorGeometry(shape: shape), layout: .nchw, groups: 4)
        var sums = [Double](repeating: 0, count: plan.partitionCount), squares = sums, counts = sums
        for n in 0..<4 { for c in 0..<8 { for s in 0..<256 {
            let p = plan.partition(sample: n, channel: c), v = Double(y[(n * 8 + c) * 256 + s])
            sums[p] += v; squares[p] += v * v; counts[p] += 1
        } } }
        for p in sums.indices {
            let mean = sums[p] / counts[p]
            #expect(abs(mean) < 1e-5)
            #expect(abs(squares[p] / counts[p] - mean * mean - 1) < 1e-3)  // eps = 1e-5 shrinks it a little
        }
    }

    @Test("statistics do not depend on how the batch is split across threads", arguments: [TensorLayout.nchw, .nhwc])
    func chunkInvariance(layout: TensorLayout) throws {
        let shape = [3, 5, 31, 17]
        let x = randomFloats(shape.reduce(1, *), seed: 11, mean: 1e3, std: 0.05)
        for kind in NormKind.allCases {
            let settings = NormSettings(kind: kind, groups: 5, trackRunningStats: true)
            var reference: RunningStatistics? = .initial(channels: 5)
            let y1 = try normalize(x, shape: shape, settings: settings, layout: layout, statistics: &reference)
            for (threads, grain) in [(2, 1), (7, 1), (7, 1000), (3, 333)] {
                var stats: RunningStatistics? = .initial(channels: 5)
                let y = try normalize(x, shape: shape, settings: settings, layout: layout, threads: threads, grain: grain, statistics: &stats)
                #expect(zip(y, y1).allSatisfy { abs($0 - $1) <= 1e-5 }, "\(kind) at \(threads) threads")
                if settings.hasRunningStatistics {
                    #expect(zip(stats!.variance, reference!.variance).allSatisfy { abs($0 - $1) <= 1e-12 * abs($1) })
                    #expect(zip(stats!.mean, reference!.mean).allSatisfy { abs($0 - $1) <= 1e-12 * abs($1) })
                }
            }
        }
    }

    @Test("eval after train applies (x − running_mean)/√(running_var + eps)·γ + β")
    func evalFormula() throws {
        let shape = [8, 3, 4, 4], count = shape.reduce(1, *)
        let settings = NormSettings(kind: .batch, momentum: .cumulative)
        var stats: RunningStatistics? = .initial(channels: 3)
        for seed in 1...4 { _ = try normalize(randomFloats(count, seed: UInt64(seed), mean: 2), shape: shape, settings: settings, statistics: &stats) }
        let before = stats
        let affine = Affine(weight: [2, 0.5, -1], bias: [0.1, 0.2, 0.3])
        let x = randomFloats(count, seed: 99, mean: 2)
        let y = try normalize(x, shape: shape, settings: settings, mode: .eval, statistics: &stats, affine: affine)
        #expect(stats == before, "eval changed the statistics")
        for i in 0..<count {
            let c = (i / 16) % 3
            let expected = (Double(x[i]) - before!.mean[c]) / (before!.variance[c] + 1e-5).squareRoot() * Double(affine.weight[c]) + Double(affine.bias[c])
            #expect(abs(Double(y[i]) - expected) <= 1e-5 * max(1, abs(expected)))
        }
    }

    @Test("GroupNorm(C, C) equals InstanceNorm and GroupNorm(1, C) equals LayerNorm")
    func groupExtremes() throws {
        let shape = [2, 6, 5, 5]
        let x = randomFloats(150 * 2, seed: 5)
        var none: RunningStatistics? = nil
        let groupC = try normalize(x, shape: shape, settings: NormSettings(kind: .group, groups: 6), statistics: &none)
        let instance = try normalize(x, shape: shape, settings: NormSettings(kind: .instance), statistics: &none)
        let group1 = try normalize(x, shape: shape, settings: NormSettings(kind: .group, groups: 1), statistics: &none)
        let layer = try normalize(x, shape: shape, settings: NormSettings(kind: .layer), statistics: &none)
        #expect(zip(groupC, instance).allSatisfy { abs($0 - $1) <= 1e-6 })
        #expect(zip(group1, layer).allSatisfy { abs($0 - $1) <= 1e-6 })
    }
}

@Suite("Batches that cannot be normalized")
struct RejectionTests {
    func expectRejected(_ code: NormError.Code, _ body: () throws -> Void) {
        do {
            try body()
            Issue.record("expected \(code.rawValue)")
        } catch {
            #expect((error as? NormError)?.code == code, "\(error)")
        }
    }

    @Test("a rejected batch leaves the running statistics exactly as they were")
    func rejectionsChangeNothing() throws {
        let settings = NormSettings(kind: .batch)
        var stats: RunningStatistics? = .initial(channels: 4)
        _ = try normalize(randomFloats(64, seed: 1), shape: [4, 4, 4], settings: settings, statistics: &stats)
        let before = stats
        var poisoned = randomFloats(64, seed: 2)
        poisoned[17] = .nan
        expectRejected(.nonfinite) { _ = try normalize(poisoned, shape: [4, 4, 4], settings: settings, statistics: &stats) }
        poisoned[17] = .infinity
        expectRejected(.nonfinite) { _ = try normalize(poisoned, shape: [4, 4, 4], settings: settings, statistics: &stats) }
        expectRejected(.nonfinite) { _ = try normalize(poisoned, shape: [4, 4, 4], settings: settings, mode: .eval, statistics: &stats) }
        expectRejected(.tooFewValues) { _ = try normalize([1, 2, 3, 4], shape: [1, 4], settings: settings, statistics: &stats) }
        expectRejected(.channels) { _ = try normalize(randomFloats(60, seed: 3), shape: [4, 5, 3], settings: settings, statistics: &stats) }
        #expect(stats == before)
        // eval with one value per channel is fine, as in PyTorch
        _ = try normalize([1, 2, 3, 4], shape: [1, 4], settings: settings, mode: .eval, statistics: &stats)
        #expect(stats == before)
    }

    @Test("variance = unbiased: a partition of one value is too_few_values; biased normalizes it; eval with running statistics is fine")
    func unbiasedOneValue() throws {
        var none: RunningStatistics? = nil
        let unbiased = { (kind: NormKind, groups: Int) in NormSettings(kind: kind, groups: groups, variance: .unbiased) }
        // group with C/G = 1 and no spatial extent; layer over [N, 1]; instance over one spatial element.
        expectRejected(.tooFewValues) { _ = try normalize([1, 2, 3, 4], shape: [2, 2], settings: unbiased(.group, 2), statistics: &none) }
        expectRejected(.tooFewValues) { _ = try normalize([1, 2], shape: [2, 1], settings: unbiased(.layer, 1), statistics: &none) }
        expectRejected(.tooFewValues) { _ = try normalize([1, 2, 3, 4], shape: [2, 2, 1], settings: unbiased(.instance, 1), statistics: &none) }
        // The same partitions with the biased variance normalize (to 0: each value is its own mean).
        let biased = try normalize([1, 2, 3, 4], shape: [2, 2], settings: NormSettings(kind: .group, groups: 2), statistics: &none)
        #expect(biased == [0, 0, 0, 0])
        // Two values per sample: x.var() divides the squared deviations by n − 1 = 1.
        let two = try normalize([1, 3, 5, 9], shape: [2, 2], settings: unbiased(.group, 1), statistics: &none)
        let expected = [(1.0 - 2) / (2.0 + 1e-5).squareRoot(), (3.0 - 2) / (2.0 + 1e-5).squareRoot(),
                        (5.0 - 7) / (8.0 + 1e-5).squareRoot(), (9.0 - 7) / (8.0 + 1e-5).squareRoot()]
        #expect(zip(two, expected).allSatisfy { abs(Double($0) - $1) < 1e-6 }, "\(two)")
        // Batch eval normalizes with running statistics, whatever the batch's size.
        var stats: RunningStatistics? = .initial(channels: 4)
        _ = try normalize([1, 2, 3, 4], shape: [1, 4], settings: NormSettings(kind: .batch, variance: .unbiased), mode: .eval, statistics: &stats)
    }

    @Test("instance with one spatial element, groups not dividing channels, wrong payload size")
    func otherRejections() {
        var none: RunningStatistics? = nil
        expectRejected(.tooFewValues) { _ = try normalize([1, 2, 3, 4], shape: [2, 2, 1], settings: NormSettings(kind: .instance), statistics: &none) }
        expectRejected(.channels) { _ = try normalize(randomFloats(60, seed: 1), shape: [2, 6, 5], settings: NormSettings(kind: .group, groups: 4), statistics: &none) }
        expectRejected(.shape) { _ = try TensorGeometry(shape: [1 << 40, 1 << 40, 16]) }
        expectRejected(.shape) { _ = try TensorGeometry(shape: [2]) }
        expectRejected(.shape) { _ = try TensorGeometry(shape: [2, 0, 3]) }
        expectRejected(.payloadSize) {
            let normalizer = Normalizer(settings: NormSettings(kind: .layer), threads: 1)
            let descriptor = TensorDescriptor(dtype: .float32, geometry: try TensorGeometry(shape: [2, 3]))
            var out = [Float](repeating: 0, count: 6)
            let input = [Float](repeating: 1, count: 5)
            _ = try input.withUnsafeBytes { i in
                try out.withUnsafeMutableBytes { o in
                    try normalizer.normalize(i, as: descriptor, into: o, outputDType: .float32, mode: .train, affine: nil, statistics: &none)
                }
            }
        }
    }

    @Test("nonfinite = pass: finite values use finite statistics, NaN and ±inf stay, nothing is tracked")
    func passNonFinite() throws {
        let settings = NormSettings(kind: .batch, nonFinite: .pass)
        var stats: RunningStatistics? = .initial(channels: 2)
        var x: [Float] = [1, 2, 3, 4, 5, 6, 7, 8]  // [2, 2, 2]: channel 0 = 1,2,5,6; channel 1 = 3,4,7,8
        x[0] = .nan
        x[3] = -.infinity
        let y = try normalize(x, shape: [2, 2, 2], settings: settings, statistics: &stats)
        #expect(y[0].isNaN)
        #expect(y[3] == -.infinity)
        #expect(stats == .initial(channels: 2))
        let finite0: [Double] = [2, 5, 6], mean0 = finite0.reduce(0, +) / 3
        let var0 = finite0.map { ($0 - mean0) * ($0 - mean0) }.reduce(0, +) / 3
        #expect(abs(Double(y[1]) - (2 - mean0) / (var0 + 1e-5).squareRoot()) < 1e-5)
    }
}

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
        let nfc = "\u{F1}", nfd = "n\u{303}"
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
