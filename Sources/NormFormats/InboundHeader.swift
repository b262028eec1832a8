import NormCore

/// A tensor message that passed every check the wire format allows before the pipeline's state.
public struct InboundHeader: Sendable {
    public let key: String
    /// The header object's members, in order, to pass through.
    public let members: [(String, JSONValue)]
    public let descriptor: TensorDescriptor
    /// The header frame's bytes, which the output header is spliced from.
    public let raw: [UInt8]
    /// The `seq` field, checked to be an unsigned 64-bit integer.
    public let seq: UInt64?
}
