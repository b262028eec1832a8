import NormCore

/// A normalized batch's header before it is written: the input header with `dtype` set to the
/// output's and the `norm` object added. Its size is counted first and its bytes written straight
/// into the output frame (`count`, then `write(into:)`), spliced from the input header's bytes;
/// a header whose top-level key is written with escapes is serialized from its parsed tree.
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

    /// The header's size in bytes.
    public var count: Int {
        var counter = ByteCounter()
        write(to: &counter)
        return counter.count
    }

    /// Writes the header into `buffer`, which must be `count` bytes.
    public func write(into buffer: UnsafeMutableRawBufferPointer) {
        var writer = ByteWriter(buffer)
        write(to: &writer)
        precondition(writer.written == buffer.count, "header smaller than counted")
    }

    /// The header's bytes in an array of their own.
    public var bytes: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(header.raw.count + 96)
        write(to: &out)
        return out
    }

    func write<S: ByteSink>(to out: inout S) {
        if let serialized {
            serialized.withUnsafeBytes { out.put($0) }
            return
        }
        header.raw.withUnsafeBytes { raw in
            HeaderSplice.write(raw, dtype: dtype, to: &out) { out in
                out.put(#"{"kind":""#)
                out.put(kind)
                out.put(#"","mode":""#)
                out.put(mode)
                out.put(UInt8(ascii: "\""))
                if let batches {
                    out.put(#","batches":"#)
                    out.putDecimal(batches)
                }
                out.put(UInt8(ascii: "}"))
            }
        }
    }
}
