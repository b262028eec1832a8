import NormTestSupport
import Testing

@testable import NormCore

/// A batch below one worker's grain skips the pass objects and the phase machinery
/// (`TwoPassKernel.normalizeInOnePiece`); it must give the bits the pieces path gives for the
/// same batch — output, the batch's channel statistics and the running statistics moved by
/// them — for every kind, dtype,
/// layout and output dtype, with and without affine.
@Suite("One-piece batches: the same bits as the pieces path")
struct OnePieceTests {
    typealias Case = ThreadCountTests.Case

    /// Runs both paths on the same input, each with its own copy of `constants` (the
    /// normalizer's own code), and returns both copies as the paths left them.
    struct BothPaths: KernelCall {
        let input: UnsafeRawPointer, onePiece: UnsafeMutableRawPointer, pieces: UnsafeMutableRawPointer
        let plan: BatchPlan, runner: ParallelRunner
        let constants: BatchConstants
        func callAsFunction<In: StoredElement, Out: StoredElement, S: ComputeScalar>(
            _: In.Type, _: Out.Type, _: S.Type
        ) -> [(done: Bool, constants: BatchConstants)] {
            var one = constants
            var many = constants
            let oneDone = TwoPassKernel.normalizeInOnePiece(In.self, Out.self, S.self, input: input, output: onePiece, plan: plan, constants: &one)
            let manyDone = TwoPassKernel.normalizeInPieces(
                In.self, Out.self, S.self, input: input, output: pieces, plan: plan, runner: runner, constants: &many)
            return [(oneDone, one), (manyDone, many)]
        }
    }

    @Test(
        "every kind × dtype × layout, two shapes, output in the same dtype and in float32, with and without affine (per channel, and per element for layer)",
        arguments: ThreadCountTests.cases)
    func samebits(_ c: Case) throws {
        for shape in [[3, 8, 5], [2, 4, 6, 6]] {
            for outDType in [c.dtype, .float32] {
                // 0: none, 1: per channel, 2: per element (layer's `[C, *S]` affine: the constants-array path).
                for affine in c.kind == .layer ? [0, 1, 2] : [0, 1] {
                    let settings = NormSettings(kind: c.kind, groups: 4, trackRunningStats: true)
                    let normalizer = Normalizer(settings: settings, threads: 2)
                    let geometry = try TensorGeometry(shape: shape)
                    let plan = BatchPlan(kind: c.kind, geometry: geometry, layout: c.layout, groups: settings.groups)
                    #expect(
                        StatisticsKernel.pieces(plan: plan, runner: normalizer.runner) == 1 && ApplyKernel.pieces(plan: plan, runner: normalizer.runner) == 1)
                    let channels = shape[1]
                    let count = geometry.elementCount
                    let affineCount = affine == 2 ? count / shape[0] : channels
                    let weights =
                        affine > 0
                        ? Affine(weight: (0..<affineCount).map { 0.5 + Float($0) / 7 }, bias: (0..<affineCount).map { Float($0) / 3 - 1 }) : nil
                    let input = ThreadCountTests().encode(seededFloats(count, seed: 11, mean: 2e2, std: 1.3), as: c.dtype)
                    var one = [UInt8](repeating: 0, count: count * outDType.itemSize)
                    var many = one
                    let doublePrecision = c.dtype == .float64 || outDType == .float64
                    let results = input.withUnsafeBytes { input in
                        one.withUnsafeMutableBytes { one in
                            many.withUnsafeMutableBytes { many in
                                Normalizer.specialized(
                                    c.dtype, outDType,
                                    BothPaths(
                                        input: input.baseAddress!, onePiece: one.baseAddress!, pieces: many.baseAddress!, plan: plan,
                                        runner: normalizer.runner,
                                        constants: BatchConstants(
                                            normalizer: normalizer, plan: plan, mode: .train, affine: weights, doublePrecision: doublePrecision,
                                            measureBatch: true, updated: .initial(channels: channels))))
                            }
                        }
                    }
                    #expect(results.allSatisfy { $0.done && $0.constants.failure == nil })
                    let (oneState, manyState) = (results[0].constants, results[1].constants)
                    #expect(oneState.measured == manyState.measured && oneState.updated == manyState.updated, "\(shape) → \(outDType) affine \(affine)")
                    // Batch and instance keep running statistics: the batch moved them.
                    let keeps = c.kind == .batch || c.kind == .instance
                    #expect(oneState.changed == keeps && (oneState.measured != nil) == keeps)
                    #expect((oneState.updated != RunningStatistics.initial(channels: channels)) == keeps)
                    #expect(one == many, "\(shape) → \(outDType) affine \(affine)")
                    #expect(one.contains { $0 != 0 })
                }
            }
        }
    }
}
