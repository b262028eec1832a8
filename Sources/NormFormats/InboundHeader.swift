import NormCore

/// A tensor message that passed every check the wire format allows before the pipeline's state.
public struct InboundHeader: Sendable {
    public let key: String
    public let descriptor: TensorDescriptor
    /// The header frame's bytes, which the output header is spliced from.
    public let raw: [UInt8]
    /// Whether the output header can be spliced from `raw`: false when a top-level key is written
    /// with escapes (the bytes then do not say which key it is).
    let splices: Bool
    /// For a header the scan read with one `dtype` and no `norm`: the output header is copied
    /// from `raw` around its `dtype` value (`HeaderScan.splice`).
    let copy: HeaderSplice.Copy?
    /// The `seq` field, checked to be an unsigned 64-bit integer.
    public let seq: UInt64?

    /// The header object's members, in order, parsed from `raw` (which the decoder accepted):
    /// for the rare header the splice cannot take, and for tests.
    public var members: [(String, JSONValue)] {
        (try? JSONParser.parse(raw, maxDepth: WireDecoder.maxHeaderDepth))?.objectValue ?? []
    }
}
