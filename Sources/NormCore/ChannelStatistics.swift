/// One batch's per-channel mean and variance, as they enter the running statistics: for batch,
/// over N and the spatial axes with Bessel's correction; for instance, the mean over samples of
/// each sample's mean and unbiased variance.
public struct ChannelStatistics: Sendable, Equatable {
    public var mean: [Double]
    public var variance: [Double]

    public init(mean: [Double], variance: [Double]) {
        self.mean = mean
        self.variance = variance
    }

    /// From the partitions' moments; nil for kinds that keep no running statistics.
    init?(moments: UnsafeBufferPointer<Moments>, plan: BatchPlan, kind: NormKind) {
        guard let made = Self.withValues(moments: moments, plan: plan, kind: kind, { Self(mean: Array($0), variance: Array($1)) }) else { return nil }
        self = made
    }

    /// The per-channel mean and variance made from the partitions' moments, in temporary memory
    /// for the length of `body` (no arrays for a batch whose statistics are only folded into the
    /// running ones); nil for kinds that keep no running statistics.
    static func withValues<R, E: Error>(
        moments: UnsafeBufferPointer<Moments>, plan: BatchPlan, kind: NormKind,
        _ body: (UnsafeBufferPointer<Double>, UnsafeBufferPointer<Double>) throws(E) -> R
    ) throws(E) -> R? {
        guard kind == .batch || kind == .instance else { return nil }
        let channels = plan.channels
        return try withUnsafeTemporaryAllocation(of: Double.self, capacity: 2 * channels) { values throws(E) -> R in
            values.initialize(repeating: 0)
            let mean = UnsafeMutableBufferPointer(rebasing: values[0..<channels])
            let variance = UnsafeMutableBufferPointer(rebasing: values[channels..<(2 * channels)])
            if kind == .batch {
                for c in 0..<channels {
                    mean[c] = moments[c].mean
                    variance[c] = moments[c].m2 / (moments[c].count - 1)
                }
            } else {
                let spatial = Double(plan.spatial)
                for n in 0..<plan.batch {
                    for c in 0..<channels {
                        let m = moments[n * channels + c]
                        mean[c] += m.mean
                        variance[c] += m.biasedVariance * spatial / (spatial - 1)
                    }
                }
                let samples = Double(plan.batch)
                for c in 0..<channels {
                    mean[c] /= samples
                    variance[c] /= samples
                }
            }
            return try body(UnsafeBufferPointer(mean), UnsafeBufferPointer(variance))
        }
    }
}
