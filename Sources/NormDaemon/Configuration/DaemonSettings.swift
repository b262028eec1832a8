/// `[daemon]`: settings for the whole process (docs/configuration.md).
public struct DaemonSettings: Sendable, Equatable {
    public var controlSocket: String
    public var stateDir: String
    public var checkpointIntervalS: Double = 10
    public var threads: Int = 0
    /// Beyond any machine normd runs on; each thread is a lane with its own queue and buffers.
    public static let maxThreads = 1024
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
