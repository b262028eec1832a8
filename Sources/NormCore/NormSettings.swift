/// Which torch.nn normalization a pipeline applies.
public enum NormKind: String, Sendable, CaseIterable, Codable {
    case batch, group, layer, instance
}

/// Train mode normalizes with the batch's statistics and updates running statistics; eval uses them.
public enum NormMode: String, Sendable, CaseIterable, Codable {
    case train, eval
}

/// The factor running statistics move by: a constant, or PyTorch's `momentum=None`.
public enum Momentum: Sendable, Equatable, Hashable {
    case factor(Double)
    /// A cumulative average: factor 1/num_batches_tracked, counted after the increment.
    case cumulative

    func factor(afterIncrement batchesTracked: Int64) -> Double {
        switch self {
        case .factor(let m): m
        case .cumulative: 1 / Double(batchesTracked)
        }
    }
}

/// The variance that divides the input when normalizing with a batch's own statistics.
public enum VarianceEstimator: String, Sendable, Codable, CaseIterable {
    /// Over n values divided by n, as torch.nn's modules do.
    case biased
    /// Divided by n − 1, as hand-written modules calling `x.var()` (unbiased by default) do.
    case unbiased
}

/// What to do with NaN and ±inf in a payload.
public enum NonFinitePolicy: String, Sendable, Codable, CaseIterable {
    /// Refuse the batch (`nonfinite`).
    case reject
    /// Normalize the finite values with their own statistics, leave the rest, update nothing.
    case pass
}

/// Everything that fixes the arithmetic of one pipeline's normalization.
public struct NormSettings: Sendable, Equatable, Hashable {
    public var kind: NormKind
    public var groups: Int
    public var eps: Double
    public var momentum: Momentum
    /// Instance only; batch always tracks, group and layer never do.
    public var trackRunningStats: Bool
    public var nonFinite: NonFinitePolicy
    /// Only the variance that divides the input; running statistics are updated the same either way.
    public var variance: VarianceEstimator

    public init(
        kind: NormKind, groups: Int = 1, eps: Double = 1e-5, momentum: Momentum = .factor(0.1),
        trackRunningStats: Bool = false, nonFinite: NonFinitePolicy = .reject, variance: VarianceEstimator = .biased
    ) {
        self.kind = kind
        self.groups = groups
        self.eps = eps
        self.momentum = momentum
        self.trackRunningStats = trackRunningStats
        self.nonFinite = nonFinite
        self.variance = variance
    }

    /// Whether this kind keeps running statistics at all.
    public var hasRunningStatistics: Bool {
        switch kind {
        case .batch: true
        case .instance: trackRunningStats
        case .group, .layer: false
        }
    }
}
