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
        let channels = plan.channels
        var mean = [Double](repeating: 0, count: channels)
        var variance = [Double](repeating: 0, count: channels)
        switch kind {
        case .batch:
            for c in 0..<channels {
                mean[c] = moments[c].mean
                variance[c] = moments[c].m2 / (moments[c].count - 1)
            }
        case .instance:
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
        case .group, .layer:
            return nil
        }
        self.init(mean: mean, variance: variance)
    }
}
