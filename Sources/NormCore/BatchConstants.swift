/// A batch normalized by its own statistics: makes the apply constants from its moments, once,
/// between the statistics pass and the apply pass, and moves the running statistics forward
/// (the caller's, moved in and handed back). Held by the caller and passed `inout`, so nothing it sets needs a heap box (a
/// capturing closure boxed each variable it set: several allocations per batch).
struct BatchConstants {
    let normalizer: Normalizer
    let plan: BatchPlan
    let mode: NormMode
    let affine: Affine?
    let doublePrecision: Bool
    let measureBatch: Bool
    /// The running statistics: the caller's, moved here so that updating them in place writes
    /// arrays nothing else holds; after `make`, the batch's update is in them.
    var updated: RunningStatistics?
    /// Whether `make` moved them.
    var changed = false
    /// Why the batch cannot be normalized, when `make` returned nil for a reason other than
    /// non-finite values under `nonfinite = "pass"` (which takes the separate passes).
    var failure: NormError?
    /// The batch's channel statistics, when asked for (drift).
    var measured: ChannelStatistics?

    /// The constants for these moments, or nil (with `failure` set, unless the values are to be
    /// passed) when a moment is not finite or the running statistics cannot move.
    mutating func make(_ moments: UnsafeBufferPointer<Moments>) -> Coefficients? {
        guard allFinite(moments) else { return nil }
        // The statistics move last; `update` checks every new value before it writes, so a
        // batch refused there has moved nothing.
        let coefficients = normalizer.coefficients(plan: plan, moments: moments, running: nil, affine: affine, doublePrecision: doublePrecision)
        return moveStatistics(moments) ? coefficients : nil
    }

    /// `make` for a batch applied in one piece: the constants go straight into `table`'s memory
    /// (temporary, of the compute precision) instead of an array of their own. False when `make`
    /// would return nil. Only for a layout without a per-element affine.
    mutating func make<S: ComputeScalar>(_ moments: UnsafeBufferPointer<Moments>, into table: inout ApplyTableWriter<S>) -> Bool {
        guard allFinite(moments) else { return false }
        normalizer.writeCoefficients(into: &table, plan: plan, moments: moments, running: nil, affine: affine, doublePrecision: doublePrecision)
        return moveStatistics(moments)
    }

    /// `make` for a batch whose constants its kernel made channel by channel (`FusedBatchKernel`):
    /// checks the moments and moves the running statistics, with `make`'s failures. False when
    /// `make` would return nil.
    mutating func settle(_ moments: UnsafeBufferPointer<Moments>) -> Bool {
        allFinite(moments) && moveStatistics(moments)
    }

    private mutating func allFinite(_ moments: UnsafeBufferPointer<Moments>) -> Bool {
        guard moments.allSatisfy(\.isFinite) else {
            // Rejected at once; `pass` needs the finite values' statistics, made by the caller.
            if normalizer.settings.nonFinite != .pass { failure = NormError(.nonfinite, "payload holds NaN or infinite values") }
            return false
        }
        return true
    }

    /// Moves the running statistics by the batch (training) and measures it (drift); false, with
    /// `failure` set and nothing moved, when the statistics would become non-finite.
    private mutating func moveStatistics(_ moments: UnsafeBufferPointer<Moments>) -> Bool {
        let settings = normalizer.settings
        guard settings.hasRunningStatistics && (measureBatch || mode == .train) else { return true }
        do throws(NormError) {
            _ = try ChannelStatistics.withValues(moments: moments, plan: plan, kind: settings.kind) { mean, variance throws(NormError) in
                if measureBatch { measured = ChannelStatistics(mean: Array(mean), variance: Array(variance)) }
                if mode == .train, updated != nil {
                    // In place: a copy in a local would share the arrays and copy them on write.
                    try normalizer.update(&updated!, mean: mean, variance: variance)
                    changed = true
                }
            }
            return true
        } catch {
            failure = error
            return false
        }
    }
}
