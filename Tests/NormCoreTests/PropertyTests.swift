import Foundation
import NormTestSupport
import Testing

@testable import NormCore

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
        let x = seededFloats(shape.reduce(1, *), seed: 7, mean: 3, std: 2)
        let settings = NormSettings(kind: kind, groups: 4)
        var stats: RunningStatistics? = settings.hasRunningStatistics ? .initial(channels: 8) : nil
        let y = try normalize(x, shape: shape, settings: settings, statistics: &stats)
        let plan = BatchPlan(kind: kind, geometry: try TensorGeometry(shape: shape), layout: .nchw, groups: 4)
        var sums = [Double](repeating: 0, count: plan.partitionCount)
        var squares = sums
        var counts = sums
        for n in 0..<4 {
            for c in 0..<8 {
                for s in 0..<256 {
                    let p = plan.partition(sample: n, channel: c)
                    let v = Double(y[(n * 8 + c) * 256 + s])
                    sums[p] += v
                    squares[p] += v * v
                    counts[p] += 1
                }
            }
        }
        for p in sums.indices {
            let mean = sums[p] / counts[p]
            #expect(abs(mean) < 1e-5)
            #expect(abs(squares[p] / counts[p] - mean * mean - 1) < 1e-3)  // eps = 1e-5 shrinks it a little
        }
    }

    @Test("statistics do not depend on how the batch is split across threads", arguments: [TensorLayout.nchw, .nhwc])
    func chunkInvariance(layout: TensorLayout) throws {
        let shape = [3, 5, 31, 17]
        let x = seededFloats(shape.reduce(1, *), seed: 11, mean: 1e3, std: 0.05)
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
        let shape = [8, 3, 4, 4]
        let count = shape.reduce(1, *)
        let settings = NormSettings(kind: .batch, momentum: .cumulative)
        var stats: RunningStatistics? = .initial(channels: 3)
        for seed in 1...4 { _ = try normalize(seededFloats(count, seed: UInt64(seed), mean: 2), shape: shape, settings: settings, statistics: &stats) }
        let before = stats
        let affine = Affine(weight: [2, 0.5, -1], bias: [0.1, 0.2, 0.3])
        let x = seededFloats(count, seed: 99, mean: 2)
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
        let x = seededFloats(150 * 2, seed: 5)
        var none: RunningStatistics? = nil
        let groupC = try normalize(x, shape: shape, settings: NormSettings(kind: .group, groups: 6), statistics: &none)
        let instance = try normalize(x, shape: shape, settings: NormSettings(kind: .instance), statistics: &none)
        let group1 = try normalize(x, shape: shape, settings: NormSettings(kind: .group, groups: 1), statistics: &none)
        let layer = try normalize(x, shape: shape, settings: NormSettings(kind: .layer), statistics: &none)
        #expect(zip(groupC, instance).allSatisfy { abs($0 - $1) <= 1e-6 })
        #expect(zip(group1, layer).allSatisfy { abs($0 - $1) <= 1e-6 })
    }
}
