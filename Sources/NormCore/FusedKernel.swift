/// Statistics and normalization in one visit per partition, for kinds whose partitions are
/// contiguous in memory and independent of each other (group, layer, instance on NCHW): a worker
/// reads a partition, computes its moments, and normalizes it while it is still in L1/L2, so the
/// batch crosses the memory bus once instead of twice.
enum FusedKernel {
    /// Partitions up to this many bytes are fused; larger ones would fall out of L2 between the reads.
    static let maxPartitionBytes = 512 * 1024

    /// Whether a batch takes this kernel depends on the batch, never on `threads`: the fused and
    /// two-pass kernels may differ in the last bit. A large batch of few partitions goes two-pass,
    /// whose pieces cut inside partitions.
    static func canFuse(plan: BatchPlan, dtype: DType, affine: Affine?, runner: ParallelRunner) -> Bool {
        plan.kind != .batch && !plan.sweepsRows && plan.runLength * dtype.itemSize <= maxPartitionBytes
            && (affine.map { $0.weight.count == plan.channels } ?? true)
            && plan.partitionCount >= min(runner.pieces(forElements: plan.geometry.elementCount), StatisticsKernel.minimumParallelPieces)
    }

    /// Returns nil when a partition holds NaN or ±inf (the caller then takes the general path).
    static func normalize<In: StoredElement, Out: StoredElement, S: ComputeScalar>(
        _: In.Type, _: Out.Type, _: S.Type, input: UnsafeRawPointer, output: UnsafeMutableRawPointer,
        plan: BatchPlan, eps: Double, variance estimator: VarianceEstimator, affine: Affine?, runner: ParallelRunner
    ) -> Bool {
        let partitions = plan.partitionCount
        // Each partition is reduced whole by one piece, so how partitions fall to pieces and
        // pieces to threads changes no bits.
        let pieces = min(runner.pieces(forElements: plan.geometry.elementCount), partitions)
        let finite = UnsafeMutableBufferPointer<Bool>.allocate(capacity: max(pieces, 1))
        finite.initialize(repeating: true)
        defer { finite.deallocate() }
        let shared = UncheckedSendable((input, output, finite))
        let gamma = affine?.weight.map(Double.init), beta = affine?.bias.map(Double.init)
        let round: (Double) -> Double = S.self == Double.self ? { $0 } : { Double(Float($0)) }
        runner.forEachPiece(pieces, workers: runner.workers(forElements: plan.geometry.elementCount)) { piece in
            let (input, output, finite) = shared.value
            let runLength = plan.runLength, spatial = plan.spatial, channels = plan.channels
            let channelsPerRun = runLength / spatial
            for run in ParallelRunner.share(piece, of: pieces, total: partitions) {
                let start = run * runLength
                let m = StatisticsKernel.contiguousMoments(In.self, input, start..<(start + runLength))
                guard m.isFinite else {
                    finite[piece] = false
                    return
                }
                let invStd = 1 / (m.variance(estimator) + eps).squareRoot()
                let hi = round(m.mean), lo = m.mean - hi
                var sentinel = SIMD8<S>()
                for k in 0..<channelsPerRun {
                    let c = (run * channelsPerRun + k) % channels
                    let from = start + k * spatial
                    ApplyKernel.segment(In.self, Out.self, input, output, from..<(from + spatial), hi: S(hi), lo: S(lo),
                                        scale: S((gamma?[c] ?? 1) * invStd), beta: S(beta?[c] ?? 0), checkFinite: false, sentinel: &sentinel)
                }
            }
        }
        return finite.allSatisfy { $0 }
    }
}
