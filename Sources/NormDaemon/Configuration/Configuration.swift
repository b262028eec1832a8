import NormCore

/// The whole daemon configuration (docs/configuration.md), every default filled in. Each
/// property's initial value is its key's default; `ConfigurationSchema` declares the keys.
public struct Configuration: Sendable, Equatable {
    public var daemon: DaemonSettings
    public var pipelines: [PipelineConfiguration]

    public init(daemon: DaemonSettings, pipelines: [PipelineConfiguration]) {
        self.daemon = daemon
        self.pipelines = pipelines
    }
}

public struct DaemonSettings: Sendable, Equatable {
    public var controlSocket: String
    public var stateDir: String
    public var checkpointIntervalS: Double = 10
    public var threads: Int = 0
    public var logLevel: String = "info"
    public var controlGroup: String = ""
    public var shutdownTimeoutS: Double = 10
    /// `host:port` for an HTTP `GET /metrics` listener; empty = off.
    public var metricsListen: String = ""
    /// Per-key running_mean/running_var gauges in the metrics (off: keys can be many).
    public var metricsKeyStatistics = false
    /// With `metricsKeyStatistics`: keys per pipeline given series (in byte order); the rest are counted.
    public var metricsKeyLimit = 1000

    public init(controlSocket: String, stateDir: String) {
        self.controlSocket = controlSocket
        self.stateDir = stateDir
    }
}

public enum InputSocketKind: String, Sendable, CaseIterable { case sub, pull }
public enum OutputSocketKind: String, Sendable, CaseIterable { case pub, push }
public enum WhenFull: String, Sendable, CaseIterable { case block, drop }
public enum StatsScope: String, Sendable, CaseIterable {
    case perKey = "per_key"
    case shared
}
public enum KeyPolicy: String, Sendable, CaseIterable {
    case reject
    case evictLRU = "evict_lru"
}

public struct CurveSettings: Sendable, Equatable {
    public var secretKeyFile: String = ""
    public var allow: [String] = []
    public var allowDir: String = ""
    public var serverPublicKey: String = ""
    /// The certificate `secret_key_file` held when the configuration was read: read once, used by
    /// the socket (and compared by a reload, so a changed certificate restarts the pipeline).
    public var certificate: CurveCertificate?
    public init() {}
}

public struct InputSettings: Sendable, Equatable {
    public var socket: InputSocketKind = .pull
    public var connect: [String] = []
    public var bind: [String] = []
    public var topics: [String] = [""]
    public var hwm: Int = 1000
    public var maxMessageBytes: Int = 268_435_456
    public var curve: CurveSettings? = nil
    public init() {}
}

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

public struct PipelineConfiguration: Sendable, Equatable {
    public var name: String
    public var input = InputSettings()
    public var output = OutputSettings()
    public var norm = NormConfiguration()

    public init(name: String) { self.name = name }

    /// Whether statistics carry over a reload: same kind, channels and stats scope.
    public func keepsStatistics(from old: PipelineConfiguration) -> Bool {
        norm.kind == old.norm.kind && norm.channels == old.norm.channels && norm.stats == old.norm.stats
            && norm.trackRunningStats == old.norm.trackRunningStats && norm.groups == old.norm.groups
    }
}
