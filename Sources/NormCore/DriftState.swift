#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `drift`: whether a pipeline scores drift, and whether a score over the threshold is an alarm.
public enum DriftMode: String, Sendable, CaseIterable {
    case off, observe, alarm
}

/// How drift is scored (docs/normalization.md, "Drift").
public struct DriftSettings: Sendable, Equatable, Hashable {
    /// `drift_threshold`: the score, in running standard deviations of mean shift, at which an
    /// alarm begins.
    public var threshold: Double
    /// `drift_variance_threshold`: the |ln variance ratio| that counts as much as `threshold`.
    public var varianceThreshold: Double
    /// `drift_smoothing`: the weight of the newest batch in the moving averages, in (0, 1].
    public var smoothing: Double
    public var eps: Double
    /// Whether a score at the threshold raises an alarm (`alarm`) or is only reported (`observe`).
    public var alarms: Bool
    /// `drift_warmup`: batches the running statistics must have seen before a batch is scored
    /// (a new key's start at mean 0, variance 1 says nothing about its stream).
    public var warmup: Int

    public init(
        threshold: Double = 2, varianceThreshold: Double = 0.4, smoothing: Double = 0.5, eps: Double = 1e-5, alarms: Bool = true,
        warmup: Int = 50
    ) {
        self.warmup = warmup
        self.threshold = threshold
        self.varianceThreshold = varianceThreshold
        self.smoothing = smoothing
        self.eps = eps
        self.alarms = alarms
    }
}

/// One key's drift: how far its recent batches sit from its running statistics.
///
/// Per batch and channel c, against the running statistics the batch met (before its own update):
/// the standardized mean shift `(m_c − μ_c) / √(σ²_c + eps)` and the log variance ratio
/// `ln((s²_c + eps) / (σ²_c + eps))`, with m and s² the batch's mean and (unbiased) variance.
/// Each is smoothed by an exponential moving average starting at 0 (signed, so noise cancels and a
/// real shift adds up). A channel's score is the larger of |mean shift| and |log ratio| ×
/// threshold ÷ variance threshold; the key's score is its worst channel's. An alarm begins when the
/// score reaches the threshold and ends when it falls below three quarters of it. Nothing is
/// scored until the running statistics have seen `warmup` batches.
public struct DriftState: Sendable, Equatable {
    public private(set) var meanShift: [Double]
    public private(set) var logVarianceRatio: [Double]
    public private(set) var score = 0.0
    /// The worst channel.
    public private(set) var channel = 0
    public private(set) var alarm = false
    public private(set) var batches = 0

    public init(channels: Int) {
        meanShift = Array(repeating: 0, count: channels)
        logVarianceRatio = Array(repeating: 0, count: channels)
    }

    /// Folds one batch in. Returns true when an alarm begins with it. A batch that meets running
    /// statistics younger than `settings.warmup` batches is not scored.
    public mutating func observe(_ batch: ChannelStatistics, against running: RunningStatistics, settings: DriftSettings) -> Bool {
        guard running.batchesTracked >= settings.warmup else { return false }
        let channels = min(meanShift.count, batch.mean.count, running.mean.count)
        let a = settings.smoothing
        let weight = settings.threshold / settings.varianceThreshold
        var worst = 0.0, worstChannel = 0
        for c in 0..<channels {
            let scale = running.variance[c] + settings.eps
            let shift = (batch.mean[c] - running.mean[c]) / scale.squareRoot()
            let ratio = log((batch.variance[c] + settings.eps) / scale)
            guard shift.isFinite, ratio.isFinite else { continue }
            meanShift[c] = (1 - a) * meanShift[c] + a * shift
            logVarianceRatio[c] = (1 - a) * logVarianceRatio[c] + a * ratio
            let score = max(abs(meanShift[c]), abs(logVarianceRatio[c]) * weight)
            if score > worst {
                worst = score
                worstChannel = c
            }
        }
        score = worst
        channel = worstChannel
        batches += 1
        guard settings.alarms else { return false }
        if alarm {
            if score < 0.75 * settings.threshold { alarm = false }
            return false
        }
        alarm = score >= settings.threshold
        return alarm
    }
}
