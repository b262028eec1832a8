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
    /// `socket = "jetstream"` (contract section 8).
    public var url = "nats://127.0.0.1:4222"
    public var urls: [String] = []
    public var stream = "NORMD_OUT"
    public var subjectPrefix = "normd.out"
    public init() {}

    /// The servers to connect to: `urls`, else `url`.
    public var servers: [String] { urls.isEmpty ? [url] : urls }
}

public enum OutputSocketKind: String, Sendable, CaseIterable { case pub, push, jetstream }

public enum WhenFull: String, Sendable, CaseIterable { case block, drop }
