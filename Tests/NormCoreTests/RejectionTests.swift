import Foundation
import NormTestSupport
import Testing

@testable import NormCore

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
        _ = try normalize(seededFloats(64, seed: 1), shape: [4, 4, 4], settings: settings, statistics: &stats)
        let before = stats
        var poisoned = seededFloats(64, seed: 2)
        poisoned[17] = .nan
        expectRejected(.nonfinite) { _ = try normalize(poisoned, shape: [4, 4, 4], settings: settings, statistics: &stats) }
        poisoned[17] = .infinity
        expectRejected(.nonfinite) { _ = try normalize(poisoned, shape: [4, 4, 4], settings: settings, statistics: &stats) }
        expectRejected(.nonfinite) { _ = try normalize(poisoned, shape: [4, 4, 4], settings: settings, mode: .eval, statistics: &stats) }
        expectRejected(.tooFewValues) { _ = try normalize([1, 2, 3, 4], shape: [1, 4], settings: settings, statistics: &stats) }
        expectRejected(.channels) { _ = try normalize(seededFloats(60, seed: 3), shape: [4, 5, 3], settings: settings, statistics: &stats) }
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
        let expected = [
            (1.0 - 2) / (2.0 + 1e-5).squareRoot(), (3.0 - 2) / (2.0 + 1e-5).squareRoot(),
            (5.0 - 7) / (8.0 + 1e-5).squareRoot(), (9.0 - 7) / (8.0 + 1e-5).squareRoot(),
        ]
        #expect(zip(two, expected).allSatisfy { abs(Double($0) - $1) < 1e-6 }, "\(two)")
        // Batch eval normalizes with running statistics, whatever the batch's size.
        var stats: RunningStatistics? = .initial(channels: 4)
        _ = try normalize([1, 2, 3, 4], shape: [1, 4], settings: NormSettings(kind: .batch, variance: .unbiased), mode: .eval, statistics: &stats)
    }

    @Test("instance with one spatial element, groups not dividing channels, wrong payload size")
    func otherRejections() {
        var none: RunningStatistics? = nil
        expectRejected(.tooFewValues) { _ = try normalize([1, 2, 3, 4], shape: [2, 2, 1], settings: NormSettings(kind: .instance), statistics: &none) }
        expectRejected(.channels) {
            _ = try normalize(seededFloats(60, seed: 1), shape: [2, 6, 5], settings: NormSettings(kind: .group, groups: 4), statistics: &none)
        }
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
        let finite0: [Double] = [2, 5, 6]
        let mean0 = finite0.reduce(0, +) / 3
        let var0 = finite0.map { ($0 - mean0) * ($0 - mean0) }.reduce(0, +) / 3
        #expect(abs(Double(y[1]) - (2 - mean0) / (var0 + 1e-5).squareRoot()) < 1e-5)
    }

    @Test("num_batches_tracked loaded at Int64's largest stays there: the batch is normalized and the statistics move, nothing traps")
    func countAtItsLargest() throws {
        let x: [Float] = [1, 2, 3, 4, 5, 6, 7, 8]  // [2, 2, 2]: channel 0 = 1,2,5,6; channel 1 = 3,4,7,8
        var stats: RunningStatistics? = RunningStatistics(mean: [0, 0], variance: [1, 1], batchesTracked: .max)
        _ = try normalize(x, shape: [2, 2, 2], settings: NormSettings(kind: .batch, momentum: .factor(0.5)), statistics: &stats)
        #expect(stats?.batchesTracked == .max)
        #expect(stats?.mean == [0.5 * 3.5, 0.5 * 5.5])
    }
}
