import NormCore

/// `[pipeline.output]`: where normalized batches go (docs/configuration.md).
public struct OutputSettings: Sendable, Equatable {
    public var socket: OutputSocketKind = .push
    public var connect: [String] = []
    public var bind: [String] = []
    public var hwm: Int = 1000
    public var topic: String = ""
    /// nil = the input's dtype ("same").
    public var dtype: DType? = nil
    public var deadLetter: String = ""
    public var whenFull: WhenFull = .block
    public var curve: CurveSettings? = nil
    public init() {}
}

public enum OutputSocketKind: String, Sendable, CaseIterable { case pub, push }

public enum WhenFull: String, Sendable, CaseIterable { case block, drop }
