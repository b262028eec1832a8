/// Running mean and variance per channel, in float64 as PyTorch's buffers would be restored.
public struct RunningStatistics: Sendable, Equatable {
    public var mean: [Double]
    public var variance: [Double]
    public var batchesTracked: Int64

    public init(mean: [Double], variance: [Double], batchesTracked: Int64) {
        self.mean = mean
        self.variance = variance
        self.batchesTracked = batchesTracked
    }

    /// PyTorch's initial buffers: mean 0, variance 1, nothing tracked.
    public static func initial(channels: Int) -> RunningStatistics {
        RunningStatistics(mean: Array(repeating: 0, count: channels), variance: Array(repeating: 1, count: channels), batchesTracked: 0)
    }

    public var channels: Int { mean.count }

    /// `other`'s values written into these arrays (of `other`'s channel count): no allocation
    /// when nothing else holds them.
    mutating func assign(_ other: RunningStatistics) {
        precondition(other.channels == channels, "statistics of another channel count")
        mean.withUnsafeMutableBufferPointer { to in other.mean.withUnsafeBufferPointer { _ = to.update(fromContentsOf: $0) } }
        variance.withUnsafeMutableBufferPointer { to in other.variance.withUnsafeBufferPointer { _ = to.update(fromContentsOf: $0) } }
        batchesTracked = other.batchesTracked
    }

    /// Why these values cannot be running statistics (a non-finite mean or variance, a negative
    /// variance or count), naming the tensor; nil when they can. A NaN here would make every
    /// later batch look non-finite, blaming the producer for a bad file.
    public var problem: String? {
        if let c = mean.firstIndex(where: { !$0.isFinite }) { return "running_mean[\(c)] is \(mean[c]); every value must be finite" }
        if let c = variance.firstIndex(where: { !$0.isFinite }) { return "running_var[\(c)] is \(variance[c]); every value must be finite" }
        if let c = variance.firstIndex(where: { $0 < 0 }) { return "running_var[\(c)] is \(variance[c]); a variance cannot be negative" }
        if batchesTracked < 0 { return "num_batches_tracked is \(batchesTracked); it cannot be negative" }
        return nil
    }
}

/// Per-channel (or, for layer, per-element `[C, *S]`) scale γ and shift β.
public struct Affine: Sendable, Equatable {
    public var weight: [Float]
    public var bias: [Float]

    public init(weight: [Float], bias: [Float]) {
        self.weight = weight
        self.bias = bias
    }

    /// γ = 1, β = 0, as torch.nn initializes them.
    public static func identity(count: Int) -> Affine {
        Affine(weight: Array(repeating: 1, count: count), bias: Array(repeating: 0, count: count))
    }
}
