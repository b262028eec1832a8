import NATS

/// Where a JetStream-fed pipeline's outputs go: a JetStream stream (with the input's message id,
/// so a redelivered input never publishes twice) or a caller's sink (a ZeroMQ socket).
public enum ClusterOutput: Sendable {
    case jetStream
    /// Called with the key, the output header's bytes and the payload; throws to refuse.
    case sink(@Sendable (String, [UInt8], [UInt8]) throws -> Void)
}
