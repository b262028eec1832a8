/// `[pipeline.input]`: where batches come from (docs/configuration.md).
public struct InputSettings: Sendable, Equatable {
    public var socket: InputSocketKind = .pull
    public var connect: [String] = []
    public var bind: [String] = []
    public var topics: [String] = [""]
    public var hwm: Int = 1000
    public var maxMessageBytes: Int = 268_435_456
    public var curve: CurveSettings? = nil
    /// `socket = "jetstream"` (contract section 8).
    public var url = "nats://127.0.0.1:4222"
    public var urls: [String] = []
    public var stream = "NORMD_IN"
    public var subjectPrefix = "normd.in"
    public var partitions = 6
    public var ackWaitS = 1.0
    public var ownerTimeoutS = 3.0
    public init() {}

    /// The servers to connect to: `urls`, else `url`.
    public var servers: [String] { urls.isEmpty ? [url] : urls }
}

public enum InputSocketKind: String, Sendable, CaseIterable { case sub, pull, jetstream }
