/// What one call to `normalize` did besides writing the output.
public struct NormOutcome: Sendable, Equatable {
    /// num_batches_tracked of the statistics used, after this batch; nil for kinds without.
    public var batchesTracked: Int64?
    /// Whether the running statistics changed.
    public var updatedStatistics: Bool
    /// Whether the payload held NaN or ±inf (only possible with `nonfinite = "pass"`).
    public var passedNonFinite: Bool
    /// The batch's channel statistics, when asked for (`measureBatch`) and the kind keeps running
    /// statistics.
    public var batch: ChannelStatistics?
}
