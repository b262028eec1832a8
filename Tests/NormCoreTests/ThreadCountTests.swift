import NormTestSupport
import Testing

@testable import NormCore

/// Instances on machines with different core counts share a pipeline's keys (cluster mode), so
/// a batch must give the same bits — output and running statistics — at every thread count.
@Suite("The same bits at every thread count")
struct ThreadCountTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let kind: NormKind, dtype: DType, layout: TensorLayout
        var testDescription: String { "\(kind) \(dtype) \(layout)" }
    }

    static let cases: [Case] = NormKind.allCases.flatMap { kind in
        DType.allCases.flatMap { dtype in [TensorLayout.nchw, .nhwc].map { Case(kind: kind, dtype: dtype, layout: $0) } }
    }

    /// Output bytes and statistics of three train batches and one eval batch.
    func run(_ c: Case, shape: [Int], threads: Int, grain: Int, affine: Bool) throws -> (output: [UInt8], statistics: RunningStatistics?) {
        let settings = NormSettings(kind: c.kind, groups: 4, trackRunningStats: true)
        let normalizer = Normalizer(settings: settings, threads: threads, minimumElementsPerWorker: grain)
        let descriptor = TensorDescriptor(dtype: c.dtype, layout: c.layout, geometry: try TensorGeometry(shape: shape))
        let count = shape.reduce(1, *)
        let channels = shape[1]
        let weights = affine ? Affine(weight: (0..<channels).map { 0.5 + Float($0) / 7 }, bias: (0..<channels).map { Float($0) / 3 - 1 }) : nil
        var statistics: RunningStatistics? = settings.hasRunningStatistics ? .initial(channels: channels) : nil
        var outputs: [UInt8] = []
        for (step, mode) in [NormMode.train, .train, .train, .eval].enumerated() {
            let input = encode(seededFloats(count, seed: UInt64(40 + step), mean: 3e2, std: 0.7), as: c.dtype)
            var output = [UInt8](repeating: 0, count: count * c.dtype.itemSize)
            _ = try input.withUnsafeBytes { input in
                try output.withUnsafeMutableBytes { output in
                    try normalizer.normalize(input, as: descriptor, into: output, outputDType: c.dtype, mode: mode, affine: weights, statistics: &statistics)
                }
            }
            outputs += output
        }
        return (outputs, statistics)
    }

    func encode(_ values: [Float], as dtype: DType) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: values.count * dtype.itemSize)
        bytes.withUnsafeMutableBytes { raw in
            for (i, v) in values.enumerated() {
                switch dtype {
                case .float32: raw.storeBytes(of: v, toByteOffset: 4 * i, as: Float.self)
                case .float64: raw.storeBytes(of: Double(v) + Double(i % 3) * 1e-9, toByteOffset: 8 * i, as: Double.self)
                case .float16: raw.storeBytes(of: Float16(v).bitPattern, toByteOffset: 2 * i, as: UInt16.self)
                case .bfloat16: raw.storeBytes(of: UInt16(truncatingIfNeeded: v.bitPattern >> 16), toByteOffset: 2 * i, as: UInt16.self)
                }
            }
        }
        return bytes
    }

    func statisticsBits(_ s: RunningStatistics?) -> [UInt64] {
        guard let s else { return [] }
        return s.mean.map(\.bitPattern) + s.variance.map(\.bitPattern) + [UInt64(s.batchesTracked)]
    }

    /// Runs `c` at 1 thread and at 2 and 7, and expects the same bytes and statistics.
    func expectAgreement(_ c: Case, shape: [Int], grain: Int, affine: Bool) throws {
        let reference = try run(c, shape: shape, threads: 1, grain: grain, affine: affine)
        for threads in [2, 7] {
            let other = try run(c, shape: shape, threads: threads, grain: grain, affine: affine)
            let differing = zip(other.output, reference.output).filter { $0 != $1 }.count
            #expect(
                other.output.count == reference.output.count && differing == 0, "\(c.testDescription): \(differing) output bytes differ at \(threads) threads")
            #expect(statisticsBits(other.statistics) == statisticsBits(reference.statistics), "\(c.testDescription): statistics at \(threads) threads")
        }
    }

    @Test("pieces cut inside partitions: 1, 2 and 7 threads agree bit for bit", arguments: cases)
    func smallPieces(c: Case) throws {
        // A grain of 64 elements cuts this batch into many pieces, inside runs and rows.
        try expectAgreement(c, shape: [3, 8, 13, 11], grain: 64, affine: true)
    }

    @Test(
        "the default split of a batch large enough for 7 workers agrees at 1, 2 and 7 threads",
        arguments: [
            Case(kind: .batch, dtype: .float32, layout: .nchw), Case(kind: .group, dtype: .bfloat16, layout: .nchw),
            Case(kind: .instance, dtype: .float16, layout: .nhwc), Case(kind: .layer, dtype: .float32, layout: .nchw),
        ])
    func defaultPieces(c: Case) throws {
        // 294,912 elements: 7 workers of the default 32,768-element grain.
        try expectAgreement(c, shape: [4, 8, 96, 96], grain: 32_768, affine: false)
    }

    @Test("the piece count depends on the batch only")
    func piecesIgnoreThreads() {
        for elements in [1, 1000, 65_535, 65_536, 300_000, 8 << 20] {
            let counts = [1, 2, 7, 64].map { ParallelRunner(threads: $0).pieces(forElements: elements) }
            #expect(Set(counts).count == 1, "\(elements) elements: \(counts)")
        }
    }
}
