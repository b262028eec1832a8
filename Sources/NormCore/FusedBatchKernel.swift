/// BatchNorm training on NCHW, one channel at a time: a worker reads a channel's N runs for its
/// moments, makes its constants, and normalizes the same runs while they are still in L2 — so
/// the batch crosses the memory bus once, where the two-pass kernel reads it from memory twice
/// once a batch outgrows the cache.
///
/// A channel's moments are summed run by run in sample order from its first value, exactly as
/// the one-piece path sums them, so the bits are that path's: the same for every thread count and
/// every way channels fall to pieces.
enum FusedBatchKernel {
    /// Whether a batch takes this kernel; like `FusedKernel.canFuse`, it depends on the batch,
    /// never on `threads` or the machine. A batch small enough for one piece stays on the
    /// one-piece path (the same bits, without a parallel run). The two passes take a channel too
    /// large for L2, a batch of fewer channels than the workers could share, and runs shorter
    /// than `minimumRunBytes`.
    static func canFuse(plan: BatchPlan, dtype: DType, runner: ParallelRunner) -> Bool {
        let pieces = runner.pieces(forElements: plan.geometry.elementCount)
        return plan.kind == .batch && !plan.sweepsRows && pieces > 1
            && plan.spatial * dtype.itemSize >= minimumRunBytes
            && plan.batch * plan.spatial * dtype.itemSize <= FusedKernel.maxPartitionBytes
            && plan.channels >= min(pieces, StatisticsKernel.minimumParallelPieces)
    }

    /// A channel's runs are read one after another, each from its own place in memory, and each
    /// start waits for memory before the prefetcher catches up. Measured at 2 threads against
    /// the two passes (`normd bench --kernel`, AMD EPYC, 8 MiB L3): 4 KiB runs were slower
    /// ([64, 60, 32, 32]: 1.45 against 1.32 of the bound; [32, 64, 32, 32] and [64, 64, 32, 32]
    /// no better), 12.5 KiB and 16 KiB runs faster ([16, 256, 56, 56]: 1.20 against 1.34;
    /// [16, 96, 56, 56]: 1.23 against 1.30; [16, 64, 64, 64]: 1.25 against 1.28).
    static let minimumRunBytes = 8 * 1024

    /// Normalizes `input` into `output` and settles the running statistics through `constants`.
    /// Returns false when `constants` refuses the moments (a value not finite, or running
    /// statistics that would become so); the output may then hold some normalized channels.
    static func normalize<In: StoredElement, Out: StoredElement, S: ComputeScalar>(
        _: In.Type, _: Out.Type, _: S.Type, input: UnsafeRawPointer, output: UnsafeMutableRawPointer,
        plan: BatchPlan, runner: ParallelRunner, constants: inout BatchConstants
    ) -> Bool {
        let channels = plan.channels
        let pieces = min(runner.pieces(forElements: plan.geometry.elementCount), channels)
        // One slot per channel, written by the one piece that takes the channel.
        let moments = UnsafeMutableBufferPointer<Moments>.allocate(capacity: channels)
        moments.initialize(repeating: Moments())
        defer { moments.deallocate() }
        let normalizer = constants.normalizer, doublePrecision = constants.doublePrecision
        let gamma = constants.affine?.weight, beta = constants.affine?.bias
        let shared = UncheckedSendable((input, output, moments))
        runner.forEachPiece(pieces, workers: runner.workers(forElements: plan.geometry.elementCount)) { piece in
            let (input, output, moments) = shared.value
            let spatial = plan.spatial, stride = channels * spatial
            for c in ParallelRunner.share(piece, of: pieces, total: channels) {
                let m = channelMoments(In.self, input, plan: plan, channel: c)
                moments[c] = m
                // `settle` refuses the batch; nothing more of this piece is worth writing.
                guard m.isFinite else { return }
                let k = normalizer.constants(mean: m.mean, variance: m.variance(normalizer.settings.variance),
                                             gamma: gamma.map { Double($0[c]) } ?? 1, beta: beta.map { Double($0[c]) } ?? 0,
                                             doublePrecision: doublePrecision)
                var sentinel = SIMD8<S>()
                var from = c * spatial
                for _ in 0..<plan.batch {
                    ApplyKernel.segment(In.self, Out.self, input, output, from..<(from + spatial), hi: S(k.hi), lo: S(k.lo),
                                        scale: S(k.scale), beta: S(k.beta), checkFinite: false, sentinel: &sentinel)
                    from += stride
                }
            }
        }
        return constants.settle(UnsafeBufferPointer(moments))
    }

    /// Channel `channel`'s moments: float64 sums of values shifted by its first value, run by run
    /// in sample order (`StatisticsKernel`'s runs sweep for one piece, restricted to the channel).
    @inline(__always)
    static func channelMoments<E: StoredElement>(_: E.Type, _ base: UnsafeRawPointer, plan: BatchPlan, channel: Int) -> Moments {
        let spatial = plan.spatial, stride = plan.channels * spatial
        var from = channel * spatial
        let shift = E.loadDouble(base, from)
        let one = StatisticsKernel.unfoldableOne(spatial)
        var sum = 0.0, squares = 0.0
        for _ in 0..<plan.batch {
            let (s, q) = StatisticsKernel.shiftedSums(E.self, base, from..<(from + spatial), shift: shift, one: one)
            sum += s
            squares += q
            from += stride
        }
        return Moments(count: Double(plan.batch * spatial), shift: shift, sum: sum, sumOfSquares: squares)
    }
}
