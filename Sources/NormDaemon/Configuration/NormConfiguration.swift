import NormCore

/// `[pipeline.norm]`: what normalization a pipeline does (docs/configuration.md).
public struct NormConfiguration: Sendable, Equatable {
    public var kind: NormKind = .batch
    public var channels: Int = 0
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
    public init() {}

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
