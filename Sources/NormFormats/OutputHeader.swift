import NormCore

/// A normalized batch's header before it is written: the input header with `dtype` set to the
/// output's and the `norm` object added, spliced from the input header's bytes when it is
/// written (by the pipeline, into one array it reuses for every message); a header whose
/// top-level key is written with escapes is serialized from its parsed tree.
public struct OutputHeader: Sendable {
    let header: InboundHeader
    let dtype: DType
    let kind: String
    let mode: String
    let batches: Int64?
    /// The tree-serialized header, for a header the splice cannot take.
    private let serialized: [UInt8]?

    public init(_ header: InboundHeader, outputDType: DType, kind: String, mode: String, batches: Int64?) {
        self.header = header
        dtype = outputDType
        self.kind = kind
        self.mode = mode
        self.batches = batches
        if header.splices {
            serialized = nil
        } else {
            var norm: [(String, JSONValue)] = [("kind", .string(kind)), ("mode", .string(mode))]
            if let batches { norm.append(("batches", .int(batches))) }
            serialized = Array(WireEncoder.outputHeader(header.members, outputDType: outputDType, norm: norm).utf8)
        }
    }

    /// The header's bytes in an array of their own.
    public var bytes: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(header.raw.count + 96)
        append(to: &out)
        return out
    }

    /// Appends the header's bytes to `out` (the pipeline reuses one array for every message).
    public func append(to out: inout [UInt8]) {
        if let serialized {
            out.append(contentsOf: serialized)
            return
        }
        header.raw.withUnsafeBytes { raw in
            if let copy = header.copy {
                copy.write(raw, dtype: dtype, to: &out) { out in writeNorm(to: &out) }
            } else {
                HeaderSplice.write(raw, dtype: dtype, to: &out) { out in writeNorm(to: &out) }
            }
        }
    }

    private func writeNorm(to out: inout [UInt8]) {
        out.append(literal: #"{"kind":""#)
        out.append(utf8: kind)
        out.append(literal: #"","mode":""#)
        out.append(utf8: mode)
        out.append(UInt8(ascii: "\""))
        if let batches {
            out.append(literal: #","batches":"#)
            out.appendDecimal(batches)
        }
        out.append(UInt8(ascii: "}"))
    }
}
