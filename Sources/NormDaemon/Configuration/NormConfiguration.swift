import NormCore

/// `[pipeline.norm]`: what normalization a pipeline does (docs/configuration.md).
public struct NormConfiguration: Sendable, Equatable {
    public var kind: NormKind = .batch
    public var channels: Int = 0
    /// 2^24: far beyond any layer's channels, and small enough that the per-channel arrays a fixed
    /// `channels` allocates at start (affine weights, each key's statistics) fit in memory.
    public static let maxChannels = 1 << 24
    public var groups: Int = 1
    public var eps: Double = 1e-5
    public var momentum: Momentum = .factor(0.1)
    public var affine: Bool = true
    public var mode: NormMode = .train
    public var stats: StatsScope = .perKey
    public var trackRunningStats: Bool = false
    public var initFile: String = ""
    public var nonfinite: NonFinitePolicy = .reject
    public var maxKeys: Int = 0
    public var keyPolicy: KeyPolicy = .reject
    /// The variance that divides the input: torch.nn's biased one, or `x.var()`'s unbiased one.
    public var variance: VarianceEstimator = .biased
    /// What the `init` file held when the configuration was read: read once, used to seed the
    /// statistics (and compared by a reload, so a changed file restarts the pipeline).
    public var initValues: InitFile?
    /// Drift scoring (docs/normalization.md, "Drift").
    public var drift: DriftMode = .off
    public var driftThreshold: Double = 2
    public var driftVarianceThreshold: Double = 0.4
    public var driftSmoothing: Double = 0.5
    public var driftWarmup: Int = 50
    public init() {}

    /// How drift is scored; nil when it is off or the kind keeps no running statistics.
    public var driftSettings: DriftSettings? {
        guard drift != .off, settings.hasRunningStatistics else { return nil }
        return DriftSettings(
            threshold: driftThreshold, varianceThreshold: driftVarianceThreshold, smoothing: driftSmoothing, eps: eps,
            alarms: drift == .alarm, warmup: driftWarmup)
    }

    public var settings: NormSettings {
        NormSettings(
            kind: kind, groups: kind == .group ? groups : 1, eps: eps, momentum: momentum,
            trackRunningStats: kind == .instance && trackRunningStats, nonFinite: nonfinite, variance: variance)
    }
}

public enum StatsScope: String, Sendable, CaseIterable {
    case perKey = "per_key"
    case shared
}

public enum KeyPolicy: String, Sendable, CaseIterable {
    case reject
    case evictLRU = "evict_lru"
}
