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
        let settings = normalizer.settings
        guard moments.allSatisfy(\.isFinite) else {
            // Rejected at once; `pass` needs the finite values' statistics, made by the caller.
            if settings.nonFinite != .pass { failure = NormError(.nonfinite, "payload holds NaN or infinite values") }
            return nil
        }
        do throws(NormError) {
            // First, so that a batch refused here has moved nothing.
            let coefficients = try normalizer.coefficients(plan: plan, moments: moments, running: nil, affine: affine, doublePrecision: doublePrecision)
            if settings.hasRunningStatistics && (measureBatch || mode == .train) {
                _ = try ChannelStatistics.withValues(moments: moments, plan: plan, kind: settings.kind) { mean, variance throws(NormError) in
                    if measureBatch { measured = ChannelStatistics(mean: Array(mean), variance: Array(variance)) }
                    if mode == .train, updated != nil {
                        // In place: a copy in a local would share the arrays and copy them on write.
                        try normalizer.update(&updated!, mean: mean, variance: variance)
                        changed = true
                    }
                }
            }
            return coefficients
        } catch {
            failure = error
            return nil
        }
    }
}
