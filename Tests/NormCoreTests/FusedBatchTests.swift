import NormTestSupport
import Testing

@testable import NormCore

/// BatchNorm training a few channels at a time (`FusedBatchKernel`) must give the one-piece
/// path's bits — output, the batch's channel statistics and the running statistics — at every
/// thread count, however channels fall to pieces, and for every dtype, in place or not, and must
/// refuse what the two passes refuse.
@Suite("Batch training a few channels at a time: the one-piece path's bits")
struct FusedBatchTests {
    /// Runs the one-piece path and the fused kernel on the same input, each with its own copy
    /// of `constants`; `inPlace` gives the fused kernel a copy of the input as its output.
    struct BothPaths: KernelCall {
        let input: UnsafeRawPointer, onePiece: UnsafeMutableRawPointer
        /// The fused kernel's input and output: the same memory when in place.
        let fusedInput: UnsafeRawPointer, fusedOutput: UnsafeMutableRawPointer
        let plan: BatchPlan, perPiece: Int, runner: ParallelRunner
        let constants: BatchConstants
        func callAsFunction<In: StoredElement, Out: StoredElement, S: ComputeScalar>(
            _: In.Type, _: Out.Type, _: S.Type
        ) -> [(done: Bool, constants: BatchConstants)] {
            var one = constants
            var fusedConstants = constants
            let oneDone = TwoPassKernel.normalizeInOnePiece(In.self, Out.self, S.self, input: input, output: onePiece, plan: plan, constants: &one)
            let fusedDone = FusedBatchKernel.normalize(
                In.self, Out.self, S.self, input: fusedInput, output: fusedOutput, plan: plan, perPiece: perPiece, runner: runner,
                constants: &fusedConstants)
            return [(oneDone, one), (fusedDone, fusedConstants)]
        }
    }

    @Test(
        "every dtype, in place, output in float32 too, with and without affine, at 1, 2 and 7 threads, 1, 3 and 8 channels to a piece",
        arguments: DType.allCases)
    func sameBits(dtype: DType) throws {
        let shape = [3, 8, 13, 11]
        let geometry = try TensorGeometry(shape: shape)
        let plan = BatchPlan(kind: .batch, geometry: geometry, layout: .nchw, groups: 1)
        let count = geometry.elementCount
        let channels = shape[1]
        let input = ThreadCountTests().encode(seededFloats(count, seed: 23, mean: 4e3, std: 0.9), as: dtype)
        for (threads, perPiece) in [1, 2, 7].flatMap({ threads in [1, 3, 8].map { (threads, $0) } }) {
            // A grain of 64 elements: pieces of one or two channels each.
            let normalizer = Normalizer(settings: NormSettings(kind: .batch), threads: threads, minimumElementsPerWorker: 64)
            #expect(normalizer.runner.pieces(forElements: count) > 1)
            for affine in [false, true] {
                let weights = affine ? Affine(weight: (0..<channels).map { 0.5 + Float($0) / 7 }, bias: (0..<channels).map { Float($0) / 3 - 1 }) : nil
                // In place needs the same dtype out; float32 out exercises a converting store.
                let outputs = dtype == .float32 ? [DType.float32] : [dtype, .float32]
                for outDType in outputs {
                    var one = [UInt8](repeating: 0, count: count * outDType.itemSize)
                    // The fused kernel writes here; in place it reads it too, a copy of the input.
                    let inPlace = outDType == dtype
                    var fused = inPlace ? input : one
                    let doublePrecision = dtype == .float64 || outDType == .float64
                    let results = input.withUnsafeBytes { input in
                        one.withUnsafeMutableBytes { one in
                            fused.withUnsafeMutableBytes { fused in
                                Normalizer.specialized(
                                    dtype, outDType,
                                    BothPaths(
                                        input: input.baseAddress!, onePiece: one.baseAddress!,
                                        fusedInput: inPlace ? UnsafeRawPointer(fused.baseAddress!) : input.baseAddress!, fusedOutput: fused.baseAddress!,
                                        plan: plan, perPiece: perPiece, runner: normalizer.runner,
                                        constants: BatchConstants(
                                            normalizer: normalizer, plan: plan, mode: .train, affine: weights, doublePrecision: doublePrecision,
                                            measureBatch: true, updated: .initial(channels: channels))))
                            }
                        }
                    }
                    let label = "\(dtype) → \(outDType), affine \(affine), \(threads) threads, \(perPiece) to a piece"
                    #expect(results.allSatisfy { $0.done && $0.constants.failure == nil }, "\(label)")
                    let (oneState, fusedState) = (results[0].constants, results[1].constants)
                    #expect(fusedState.changed && fusedState.measured != nil, "\(label)")
                    #expect(oneState.measured == fusedState.measured && oneState.updated == fusedState.updated, "\(label)")
                    #expect(oneState.updated != RunningStatistics.initial(channels: channels), "\(label)")
                    let differing = zip(one, fused).filter { $0 != $1 }.count
                    #expect(one.count == fused.count && differing == 0, "\(label): \(differing) bytes differ")
                    #expect(one.contains { $0 != 0 }, "\(label)")
                }
            }
        }
    }

    @Test("out of place: the output is the one-piece path's and the input is left as it was", arguments: [DType.float32, .bfloat16])
    func outOfPlace(dtype: DType) throws {
        let shape = [4, 16, 9, 7]
        let geometry = try TensorGeometry(shape: shape)
        let normalizer = Normalizer(settings: NormSettings(kind: .batch), threads: 2, minimumElementsPerWorker: 100)
        let descriptor = TensorDescriptor(dtype: dtype, layout: .nchw, geometry: geometry)
        let input = ThreadCountTests().encode(seededFloats(geometry.elementCount, seed: 5, mean: -20, std: 3), as: dtype)
        let original = input
        var fusedOutput = [UInt8](repeating: 0, count: input.count)
        var fusedStatistics: RunningStatistics? = .initial(channels: 16)
        let plan = BatchPlan(kind: .batch, geometry: geometry, layout: .nchw, groups: 1)
        try input.withUnsafeBytes { input in
            try fusedOutput.withUnsafeMutableBytes { output in
                var constants = BatchConstants(
                    normalizer: normalizer, plan: plan, mode: .train, affine: nil, doublePrecision: false, measureBatch: false,
                    updated: fusedStatistics.take())
                let done = withUnsafeMutablePointer(to: &constants) { constants in
                    Normalizer.specialized(
                        dtype, dtype,
                        FusedBatchCall(
                            input: input.baseAddress!, output: output.baseAddress!, plan: plan, perPiece: 3, runner: normalizer.runner, constants: constants))
                }
                #expect(done)
                fusedStatistics = constants.updated
                _ = try #require(fusedStatistics)
            }
        }
        #expect(input.elementsEqual(original), "the input changed")
        // The reference: the same batch through the normalizer at one piece (a grain above its size).
        let whole = Normalizer(settings: NormSettings(kind: .batch), threads: 1, minimumElementsPerWorker: 1 << 30)
        var reference = [UInt8](repeating: 0, count: input.count)
        var statistics: RunningStatistics? = .initial(channels: 16)
        _ = try input.withUnsafeBytes { input in
            try reference.withUnsafeMutableBytes { output in
                try whole.normalize(input, as: descriptor, into: output, outputDType: dtype, mode: .train, affine: nil, statistics: &statistics)
            }
        }
        let differing = zip(fusedOutput, reference).filter { $0 != $1 }.count
        #expect(differing == 0, "\(differing) bytes differ")
        #expect(fusedStatistics == statistics)
    }

    @Test("which batches take it, and how many channels to a piece: blocks of 8–16 KiB per sample that fit L2 in every sample, the same at every thread count")
    func whichBatches() throws {
        func perPiece(_ shape: [Int], _ dtype: DType = .float32, layout: TensorLayout = .nchw, threads: Int = 2) throws -> Int? {
            let plan = BatchPlan(kind: .batch, geometry: try TensorGeometry(shape: shape), layout: layout, groups: 1)
            return FusedBatchKernel.channelsPerPiece(plan: plan, dtype: dtype, runner: ParallelRunner(threads: threads))
        }
        for threads in [1, 2, 7] {
            #expect(try perPiece([32, 64, 32, 32], threads: threads) == 4)  // 16 KiB blocks, 512 KiB a piece
            #expect(try perPiece([16, 256, 56, 56], threads: threads) == 2)
        }
        #expect(try perPiece([64, 64, 32, 32]) == 2)  // 4 would not fit: 8 KiB blocks
        #expect(try perPiece([16, 256, 56, 56], .float16) == 3)
        #expect(try perPiece([16, 64, 64, 64]) == 1)
        #expect(try perPiece([256, 64, 16, 16]) == nil)  // 2 KiB blocks are all that fit
        #expect(try perPiece([16, 256, 56, 56], layout: .nhwc) == nil)
        #expect(try perPiece([64, 16, 48, 48]) == nil)  // a channel of 576 KiB
        #expect(try perPiece([16, 4, 256, 256]) == nil)  // 4 channels for 64 pieces
        #expect(try perPiece([1, 8, 2048]) == nil)  // one piece
        let plan = BatchPlan(kind: .instance, geometry: try TensorGeometry(shape: [16, 256, 56, 56]), layout: .nchw, groups: 1)
        #expect(FusedBatchKernel.channelsPerPiece(plan: plan, dtype: .float32, runner: ParallelRunner(threads: 2)) == nil)
    }

    @Test("the golden case batch-fused-blocks takes this kernel under the golden tests' settings, so the NumPy reference holds it")
    func goldenCaseFuses() throws {
        let golden = try #require(GoldenFixture.shared.cases.first { $0.name == "batch-fused-blocks" })
        let plan = BatchPlan(kind: .batch, geometry: try TensorGeometry(shape: golden.shape), layout: .nchw, groups: 1)
        for threads in [1, 2, 7] {
            // GoldenTests.run's normalizer: a grain of 7 elements.
            let normalizer = Normalizer(settings: golden.settings, threads: threads, minimumElementsPerWorker: 7)
            #expect(FusedBatchKernel.channelsPerPiece(plan: plan, dtype: .float32, runner: normalizer.runner) == 2)
        }
    }

    @Test("through the normalizer: a batch holding NaN or infinity is refused and moves no running statistics")
    func refusals() throws {
        // [2, 16, 2048] float32: 8 KiB runs, 8 blocks of 2 channels, 32 pieces of 1,024 elements.
        let shape = [2, 16, 2048]
        let geometry = try TensorGeometry(shape: shape)
        let normalizer = Normalizer(settings: NormSettings(kind: .batch), threads: 2, minimumElementsPerWorker: 1024)
        let plan = BatchPlan(kind: .batch, geometry: geometry, layout: .nchw, groups: 1)
        #expect(FusedBatchKernel.channelsPerPiece(plan: plan, dtype: .float32, runner: normalizer.runner) == 2)
        let descriptor = TensorDescriptor(dtype: .float32, layout: .nchw, geometry: geometry)
        var statistics: RunningStatistics? = .initial(channels: 16)

        func normalize(_ values: [Float]) throws {
            var output = [Float](repeating: 0, count: values.count)
            try values.withUnsafeBytes { input in
                try output.withUnsafeMutableBytes { output in
                    _ = try normalizer.normalize(input, as: descriptor, into: output, outputDType: .float32, mode: .train, affine: nil, statistics: &statistics)
                }
            }
        }

        var values = seededFloats(geometry.elementCount, seed: 9)
        try normalize(values)
        let before = statistics
        #expect(before?.batchesTracked == 1)
        values[5 * 2048 + 17] = .nan
        #expect(throws: NormError.self) { try normalize(values) }
        #expect(statistics == before)
        values[5 * 2048 + 17] = .infinity
        #expect(throws: NormError.self) { try normalize(values) }
        #expect(statistics == before)
    }
}
