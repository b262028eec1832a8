/// `[pipeline.input]`: where batches come from (docs/configuration.md).
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

public enum InputSocketKind: String, Sendable, CaseIterable { case sub, pull }
