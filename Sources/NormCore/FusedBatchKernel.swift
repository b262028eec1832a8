/// BatchNorm training on NCHW, a few neighbouring channels at a time: a worker reads their runs
/// in every sample for their moments, makes their constants, and normalizes the same runs while
/// they are still in L2 — so the batch crosses the memory bus once, where the two-pass kernel
/// reads it from memory twice once a batch outgrows the cache.
///
/// A channel's moments are summed run by run in sample order from its first value, exactly as
/// the one-piece path sums them, so the bits are that path's: the same for every thread count and
/// however channels fall to pieces.
enum FusedBatchKernel {
    /// How many neighbouring channels a piece takes: enough that their runs in one sample, which
    /// lie one after another, make a block of `blockBytes`, and few enough that the piece's
    /// runs in every sample fit `FusedKernel.maxPartitionBytes`. Nil when no count does both
    /// with a block of at least `minimumBlockBytes`.
    ///
    /// Each block is read from its own place in memory, and its start waits for memory before
    /// the prefetcher catches up. Measured at 2 threads against the two passes (`normd bench
    /// --kernel`, AMD EPYC with 8 MiB of L3), as time ÷ bound: a channel at a time, 4 KiB runs
    /// were slower ([64, 60, 32, 32]: 1.45 against 1.32) or no faster ([32, 64, 32, 32]); 12.5
    /// and 16 KiB runs were faster ([16, 256, 56, 56]: 1.20 against 1.34; [16, 64, 64, 64]:
    /// 1.25 against 1.28). In 16 KiB blocks the 4 KiB runs are faster too: [32, 64, 32, 32]
    /// 1.17–1.18 against 1.21–1.39, [64, 60, 32, 32] 1.18 against 1.27.
    static func blockChannels(plan: BatchPlan, itemSize: Int) -> Int? {
        let runBytes = plan.spatial * itemSize
        let wanted = (blockBytes + runBytes - 1) / runBytes
        let fitting = FusedKernel.maxPartitionBytes / max(1, plan.batch * runBytes)
        let count = min(wanted, fitting, plan.channels)
        return count >= 1 && count * runBytes >= minimumBlockBytes ? count : nil
    }

    static let blockBytes = 16 * 1024
    static let minimumBlockBytes = 8 * 1024

    /// The channels each piece takes when a batch takes this kernel, or nil when it takes the
    /// two passes. Like `FusedKernel.canFuse`, it depends on the batch, never on `threads` or the
    /// machine. A batch small enough for one piece stays on the one-piece path (the same bits,
    /// without a parallel run); the two passes take a batch whose blocks would be short or too
    /// large for L2, or too few to share among the workers.
    static func channelsPerPiece(plan: BatchPlan, dtype: DType, runner: ParallelRunner) -> Int? {
        guard plan.kind == .batch, !plan.sweepsRows, let perPiece = blockChannels(plan: plan, itemSize: dtype.itemSize) else { return nil }
        let pieces = runner.pieces(forElements: plan.geometry.elementCount)
        let enough = pieces > 1 && (plan.channels + perPiece - 1) / perPiece >= min(pieces, StatisticsKernel.minimumParallelPieces)
        return enough ? perPiece : nil
    }

    /// Normalizes `input` into `output`, `perPiece` neighbouring channels to a piece, and
    /// settles the running statistics through `constants`. Returns false when `constants`
    /// refuses the moments (a value not finite, or running statistics that would become so);
    /// the output may then hold some normalized channels.
    static func normalize<In: StoredElement, Out: StoredElement, S: ComputeScalar>(
        _: In.Type, _: Out.Type, _: S.Type, input: UnsafeRawPointer, output: UnsafeMutableRawPointer,
        plan: BatchPlan, perPiece: Int, runner: ParallelRunner, constants: inout BatchConstants
    ) -> Bool {
        let channels = plan.channels
        let pieces = (channels + perPiece - 1) / perPiece
        // One slot per channel, written by the one piece that takes the channel.
        let moments = UnsafeMutableBufferPointer<Moments>.allocate(capacity: channels)
        moments.initialize(repeating: Moments())
        defer { moments.deallocate() }
        let normalizer = constants.normalizer, doublePrecision = constants.doublePrecision
        let gamma = constants.affine?.weight, beta = constants.affine?.bias
        let shared = UncheckedSendable((input, output, moments))
        runner.forEachPiece(pieces, workers: runner.workers(forElements: plan.geometry.elementCount)) { piece in
            let (input, output, moments) = shared.value
            let block = (piece * perPiece)..<min((piece + 1) * perPiece, channels)
            blockMoments(In.self, input, plan: plan, channels: block, into: moments)
            // `settle` refuses the batch; nothing more of this piece is worth writing.
            guard moments[block].allSatisfy(\.isFinite) else { return }
            withUnsafeTemporaryAllocation(of: S.self, capacity: 4 * block.count) { table in
                for (i, c) in block.enumerated() {
                    let m = moments[c]
                    let k = normalizer.constants(mean: m.mean, variance: m.variance(normalizer.settings.variance),
                                                 gamma: gamma.map { Double($0[c]) } ?? 1, beta: beta.map { Double($0[c]) } ?? 0,
                                                 doublePrecision: doublePrecision)
                    (table[4 * i], table[4 * i + 1], table[4 * i + 2], table[4 * i + 3]) = (S(k.hi), S(k.lo), S(k.scale), S(k.beta))
                }
                let spatial = plan.spatial
                var sentinel = SIMD8<S>()
                for n in 0..<plan.batch {
                    for (i, c) in block.enumerated() {
                        let from = (n * channels + c) * spatial
                        ApplyKernel.segment(In.self, Out.self, input, output, from..<(from + spatial), hi: table[4 * i], lo: table[4 * i + 1],
                                            scale: table[4 * i + 2], beta: table[4 * i + 3], checkFinite: false, sentinel: &sentinel)
                    }
                }
            }
        }
        return constants.settle(UnsafeBufferPointer(moments))
    }

    /// The moments of the channels `block`, sample by sample (the block's runs in one sample lie
    /// one after another): each channel's float64 sums of values shifted by its first value, run
    /// by run in sample order — `StatisticsKernel`'s runs sweep for one piece, restricted to
    /// the channel.
    static func blockMoments<E: StoredElement>(
        _: E.Type, _ base: UnsafeRawPointer, plan: BatchPlan, channels block: Range<Int>, into moments: UnsafeMutableBufferPointer<Moments>
    ) {
        let spatial = plan.spatial, channels = plan.channels
        let one = StatisticsKernel.unfoldableOne(spatial)
        withUnsafeTemporaryAllocation(of: (shift: Double, sum: Double, squares: Double).self, capacity: block.count) { sums in
            for (i, c) in block.enumerated() { sums[i] = (E.loadDouble(base, c * spatial), 0, 0) }
            for n in 0..<plan.batch {
                for (i, c) in block.enumerated() {
                    let from = (n * channels + c) * spatial
                    let (s, q) = StatisticsKernel.shiftedSums(E.self, base, from..<(from + spatial), shift: sums[i].shift, one: one)
                    sums[i].sum += s
                    sums[i].squares += q
                }
            }
            for (i, c) in block.enumerated() {
                moments[c] = Moments(count: Double(plan.batch * spatial), shift: sums[i].shift, sum: sums[i].sum, sumOfSquares: sums[i].squares)
            }
        }
    }
}
