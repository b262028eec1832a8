import NormTestSupport
import Testing

@testable import NormCore

/// A batch below one worker's grain skips the pass objects and the phase machinery
/// (`TwoPassKernel.normalizeInOnePiece`); it must give the bits the pieces path gives for the
/// same batch — output and the moments the constants are made from — for every kind, dtype,
/// layout and output dtype, with and without affine.
@Suite("One-piece batches: the same bits as the pieces path")
struct OnePieceTests {
    typealias Case = ThreadCountTests.Case

    /// Runs both paths on the same input; the constants come from the normalizer's own code.
    struct BothPaths: KernelCall {
        let input: UnsafeRawPointer, onePiece: UnsafeMutableRawPointer, pieces: UnsafeMutableRawPointer
        let plan: BatchPlan, runner: ParallelRunner
        let constants: ([Moments]) -> Coefficients?
        func callAsFunction<In: StoredElement, Out: StoredElement, S: ComputeScalar>(_: In.Type, _: Out.Type, _: S.Type) -> (Bool, Bool) {
            (
                TwoPassKernel.normalizeInOnePiece(In.self, Out.self, S.self, input: input, output: onePiece, plan: plan, coefficients: constants),
                TwoPassKernel.normalizeInPieces(In.self, Out.self, S.self, input: input, output: pieces, plan: plan, runner: runner, coefficients: constants)
            )
        }
    }

    final class Seen: @unchecked Sendable {
        // Written by the constants closure, which each path calls once on the test's thread.
        var moments: [[Moments]] = []
    }

    @Test("every kind × dtype × layout, two shapes, output in the same dtype and in float32, with and without affine", arguments: ThreadCountTests.cases)
    func samebits(_ c: Case) throws {
        for shape in [[3, 8, 5], [2, 4, 6, 6]] {
            for outDType in [c.dtype, .float32] {
                for affine in [false, true] {
                    let settings = NormSettings(kind: c.kind, groups: 4, trackRunningStats: true)
                    let normalizer = Normalizer(settings: settings, threads: 2)
                    let geometry = try TensorGeometry(shape: shape)
                    let plan = BatchPlan(kind: c.kind, geometry: geometry, layout: c.layout, groups: settings.groups)
                    #expect(
                        StatisticsKernel.pieces(plan: plan, runner: normalizer.runner) == 1 && ApplyKernel.pieces(plan: plan, runner: normalizer.runner) == 1)
                    let channels = shape[1]
                    let weights =
                        affine ? Affine(weight: (0..<channels).map { 0.5 + Float($0) / 7 }, bias: (0..<channels).map { Float($0) / 3 - 1 }) : nil
                    let count = geometry.elementCount
                    let input = ThreadCountTests().encode(seededFloats(count, seed: 11, mean: 2e2, std: 1.3), as: c.dtype)
                    var one = [UInt8](repeating: 0, count: count * outDType.itemSize)
                    var many = one
                    let seen = Seen()
                    let doublePrecision = c.dtype == .float64 || outDType == .float64
                    let results = input.withUnsafeBytes { input in
                        one.withUnsafeMutableBytes { one in
                            many.withUnsafeMutableBytes { many in
                                Normalizer.specialized(
                                    c.dtype, outDType,
                                    BothPaths(
                                        input: input.baseAddress!, onePiece: one.baseAddress!, pieces: many.baseAddress!, plan: plan,
                                        runner: normalizer.runner
                                    ) { moments in
                                        seen.moments.append(moments)
                                        return try? normalizer.coefficients(
                                            plan: plan, moments: moments, running: nil, affine: weights, doublePrecision: doublePrecision)
                                    })
                            }
                        }
                    }
                    #expect(results.0 && results.1)
                    #expect(seen.moments.count == 2 && seen.moments[0] == seen.moments[1], "\(shape) → \(outDType) affine \(affine)")
                    #expect(one == many, "\(shape) → \(outDType) affine \(affine)")
                    #expect(one.contains { $0 != 0 })
                }
            }
        }
    }
}
