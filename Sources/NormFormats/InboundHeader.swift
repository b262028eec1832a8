import NormCore

/// A tensor message that passed every check the wire format allows before the pipeline's state.
public struct InboundHeader: Sendable {
    public let key: String
    /// The header object's members, in order, to pass through.
    public let members: [(String, JSONValue)]
    public let descriptor: TensorDescriptor
}
