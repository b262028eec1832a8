/// Normalizes one batch at a time with torch.nn's semantics. Pure computation: no I/O, no state
/// of its own; running statistics are passed in and updated in place.
public struct Normalizer: Sendable {
    public let settings: NormSettings
    let runner: ParallelRunner

    /// - Parameter threads: workers per batch; 0 means one per core.
    public init(settings: NormSettings, threads: Int = 0) {
        self.settings = settings
        self.runner = ParallelRunner(threads: threads > 0 ? threads : Self.coreCount)
    }

    init(settings: NormSettings, threads: Int, minimumElementsPerWorker: Int) {
        self.settings = settings
        var runner = ParallelRunner(threads: threads)
        runner.minimumElementsPerWorker = minimumElementsPerWorker
        self.runner = runner
    }

    public var threads: Int { runner.threads }

    static var coreCount: Int { max(1, ProcessInfoShim.activeProcessorCount) }

    /// Normalizes `input` into `output`.
    ///
    /// - Parameters:
    ///   - affine: per-channel γ/β (`C` values), or for layer a full `[C, *S]` pair; nil for none.
    ///   - statistics: the running statistics of kinds that keep them; updated in train mode.
    ///     A thrown error leaves them exactly as they were.
    ///   - measureBatch: return the batch's channel statistics (for drift); in train mode they
    ///     come free with the update, in eval mode they cost one more statistics pass.
    public func normalize(
        _ input: UnsafeRawBufferPointer, as descriptor: TensorDescriptor,
        into output: UnsafeMutableRawBufferPointer, outputDType: DType,
        mode: NormMode, affine: Affine?, statistics: inout RunningStatistics?, measureBatch: Bool = false
    ) throws(NormError) -> NormOutcome {
        let geometry = descriptor.geometry
        let plan = BatchPlan(kind: settings.kind, geometry: geometry, layout: descriptor.layout, groups: settings.groups)
        try validate(input: input, output: output, descriptor: descriptor, outputDType: outputDType, affine: affine, statistics: statistics)

        let useRunning = usesRunningStatistics(mode)
        let samplesPerPartition = settings.kind == .batch ? geometry.batch * geometry.spatial : geometry.spatial
        if !useRunning && (settings.kind == .batch || settings.kind == .instance) && samplesPerPartition == 1 {
            let what = settings.kind == .batch ? "one value per channel in batch training" : "one spatial element per instance"
            throw NormError(.tooFewValues, "\(what) (shape \(geometry.shape))")
        }
        // The unbiased variance of one value divides by zero.
        if !useRunning && settings.variance == .unbiased && geometry.elementCount / max(1, plan.partitionCount) <= 1 {
            throw NormError(.tooFewValues, "one value per \(settings.kind == .batch ? "channel" : "partition") with variance = \"unbiased\" (shape \(geometry.shape))")
        }

        let input = input.baseAddress!, output = output.baseAddress!
        // Group, layer and instance on NCHW: one pass per partition while it is in cache. What it
        // does not cover (NaN and ±inf among them) takes the two passes below.
        if !settings.hasRunningStatistics, FusedKernel.canFuse(plan: plan, dtype: descriptor.dtype, affine: affine, runner: runner),
           Self.specialized(descriptor.dtype, outputDType, FusedCall(input: input, output: output, plan: plan, eps: settings.eps, variance: settings.variance, affine: affine, runner: runner)) {
            return NormOutcome(batchesTracked: nil, updatedStatistics: false, passedNonFinite: false, batch: nil)
        }
        let doublePrecision = descriptor.dtype == .float64 || outputDType == .float64

        // The batch's own statistics, all finite: both passes in one parallel run.
        if !useRunning {
            var constants = BatchConstants(normalizer: self, plan: plan, mode: mode, affine: affine, doublePrecision: doublePrecision,
                                           measureBatch: measureBatch, updated: statistics.take())
            // Batch training on NCHW: a few channels at a time while they are in cache, when they fit.
            let perPiece = settings.kind == .batch ? FusedBatchKernel.channelsPerPiece(plan: plan, dtype: descriptor.dtype, runner: runner) : nil
            let done = withUnsafeMutablePointer(to: &constants) { constants in
                if let perPiece {
                    let call = FusedBatchCall(input: input, output: output, plan: plan, perPiece: perPiece, runner: runner, constants: constants)
                    return Self.specialized(descriptor.dtype, outputDType, call)
                }
                return Self.specialized(descriptor.dtype, outputDType, TwoPassCall(input: input, output: output, plan: plan, runner: runner, constants: constants))
            }
            // Back to the caller, updated or (when the update was refused) as they were.
            statistics = constants.updated.take()
            if done {
                return NormOutcome(batchesTracked: settings.hasRunningStatistics ? statistics?.batchesTracked : nil,
                                   updatedStatistics: constants.changed, passedNonFinite: false, batch: constants.measured)
            }
            if let failure = constants.failure { throw failure }
        }

        // Running statistics (eval), or — with `nonfinite = "pass"` — NaN and ±inf among the values,
        // which the one-run pass above found: separate passes that look for them.
        var passedNonFinite = false
        var moments: [Moments] = []
        if !useRunning {
            passedNonFinite = true
            moments = Self.specialized(descriptor.dtype, descriptor.dtype, MomentsCall(input: input, plan: plan, runner: runner, finiteOnly: true))
        }

        // Neither eval nor a batch passed with NaN or ±inf moves the running statistics.
        let constants = moments.withUnsafeBufferPointer { moments in
            coefficients(plan: plan, moments: moments, running: useRunning ? statistics : nil, affine: affine, doublePrecision: doublePrecision)
        }
        let apply = ApplyCall(input: input, output: output, plan: plan, coefficients: constants, runner: runner, checkFinite: true)
        if !Self.specialized(descriptor.dtype, outputDType, apply) {
            if settings.nonFinite == .reject && !passedNonFinite {
                throw NormError(.nonfinite, "payload holds NaN or infinite values")
            }
            passedNonFinite = true
            NonFiniteRestore.restore(input, descriptor.dtype, output, outputDType, count: geometry.elementCount)
        }
        // Eval with drift: the batch's own statistics, one more pass over the input.
        var measured: ChannelStatistics?
        if measureBatch && useRunning && !passedNonFinite {
            let batchMoments = Self.specialized(descriptor.dtype, descriptor.dtype, MomentsCall(input: input, plan: plan, runner: runner, finiteOnly: false))
            measured = batchMoments.withUnsafeBufferPointer { ChannelStatistics(moments: $0, plan: plan, kind: settings.kind) }
        }
        return NormOutcome(batchesTracked: settings.hasRunningStatistics ? statistics?.batchesTracked : nil,
                           updatedStatistics: false, passedNonFinite: passedNonFinite, batch: measured)
    }

    /// Whether `normalize` may be given the same memory as input and output: every path reads an
    /// element before it writes the element at the same place and never reads another's after,
    /// except two that read the input after the apply pass — `nonfinite = "pass"` restoring NaN
    /// and ±inf from it, and eval measuring the batch for drift — and a different output dtype.
    public func canNormalizeInPlace(dtype: DType, outputDType: DType, mode: NormMode, measureBatch: Bool) -> Bool {
        dtype == outputDType && settings.nonFinite != .pass && !(measureBatch && usesRunningStatistics(mode))
    }

    func usesRunningStatistics(_ mode: NormMode) -> Bool {
        mode == .eval && settings.hasRunningStatistics
    }

    private func validate(
        input: UnsafeRawBufferPointer, output: UnsafeMutableRawBufferPointer, descriptor: TensorDescriptor,
        outputDType: DType, affine: Affine?, statistics: RunningStatistics?
    ) throws(NormError) {
        let geometry = descriptor.geometry
        let channels = geometry.channels
        guard let inBytes = geometry.byteCount(descriptor.dtype), let outBytes = geometry.byteCount(outputDType) else {
            throw NormError(.shape, "shape \(geometry.shape) overflows 64 bits in bytes")
        }
        guard input.count == inBytes else {
            throw NormError(.payloadSize, "payload has \(input.count) bytes, shape \(geometry.shape) of \(descriptor.dtype.rawValue) needs \(inBytes)")
        }
        guard output.count == outBytes else {
            throw NormError(.payloadSize, "output buffer has \(output.count) bytes, needs \(outBytes)")
        }
        if settings.kind == .group {
            guard settings.groups > 0, channels % settings.groups == 0 else {
                throw NormError(.channels, "groups \(settings.groups) do not divide channels \(channels)")
            }
        }
        if let affine {
            let full = settings.kind == .layer && affine.weight.count == channels * geometry.spatial
            guard (affine.weight.count == channels || full), affine.bias.count == affine.weight.count else {
                throw NormError(.affine, "affine has \(affine.weight.count) weights for \(channels) channels")
            }
        }
        if settings.hasRunningStatistics {
            guard let statistics else { throw NormError(.statistics, "running statistics are required for \(settings.kind.rawValue)") }
            guard statistics.mean.count == channels, statistics.variance.count == channels else {
                throw NormError(.channels, "batch has \(channels) channels, running statistics have \(statistics.mean.count)")
            }
        }
    }
}
