import NormCore

/// Decodes wire format v1 (docs/wire-format.md): every field is checked before anything is
/// allocated from it, in the contract's order, the first failure winning.
public struct WireDecoder: Sendable {
    public static let maxKeyBytes = 255
    public static let maxHeaderDepth = 32

    public let maxMessageBytes: Int
    /// The pipeline's fixed channel count (0 = learned per key) and group count (group kind only).
    public let channels: Int
    public let groups: Int?

    public init(maxMessageBytes: Int, channels: Int, groups: Int?) {
        self.maxMessageBytes = maxMessageBytes
        self.channels = channels
        self.groups = groups
    }

    /// The first check: a message is three frames (key, header, payload).
    public func checkFrames(_ frameCount: Int) throws(Rejection) {
        guard frameCount == 3 else { throw Rejection(.frames, "expected 3 frames, got \(frameCount)") }
    }

    /// After `checkFrames`: checks key, header, dtype, shape, size and layout, and the channel count
    /// where the configuration fixes it. The payload size is checked by the caller against the
    /// key's state. The common header is read in one pass without a JSON tree (`HeaderScan`);
    /// any other goes through the parser, which names the rejection.
    public func decode(keyFrame: UnsafeRawBufferPointer, headerFrame: UnsafeRawBufferPointer) throws(Rejection) -> InboundHeader {
        var buffers = DecodeBuffers()
        return try decode(keyFrame: keyFrame, headerFrame: headerFrame, reusing: &buffers)
    }

    /// The same, with the header's bytes and shape written into `buffers`' arrays when nothing
    /// else holds them any more (see `DecodeBuffers`).
    public func decode(
        keyFrame: UnsafeRawBufferPointer, headerFrame: UnsafeRawBufferPointer, reusing buffers: inout DecodeBuffers
    ) throws(Rejection) -> InboundHeader {
        let key = try checkKey(keyFrame)
        if let scan = HeaderScan.scan(headerFrame, maxDepth: Self.maxHeaderDepth, shape: &buffers.shape) {
            return try describe(
                key: key, dtype: scan.dtype, shape: scan.shape, layout: { scan.layout }, raw: buffers.header(copying: headerFrame),
                splices: true, copy: scan.splice, seq: scan.seq)
        }
        return try parse(key: key, headerFrame: headerFrame)
    }

    /// The same decoding with every header parsed into a tree: the reference the one-pass scan
    /// is held to (the header fuzzer and the tests compare the two on every input).
    public func decodeByParsing(keyFrame: UnsafeRawBufferPointer, headerFrame: UnsafeRawBufferPointer) throws(Rejection) -> InboundHeader {
        try parse(key: try checkKey(keyFrame), headerFrame: headerFrame)
    }

    private func checkKey(_ keyFrame: UnsafeRawBufferPointer) throws(Rejection) -> String {
        guard keyFrame.count <= Self.maxKeyBytes else { throw Rejection(.key, "key is \(keyFrame.count) bytes, at most \(Self.maxKeyBytes)") }
        // ASCII, the usual key, needs no decoding; `String(validating:)` is generic over the
        // sequence and looked its types up at run time for every message.
        if !keyFrame.contains(where: { $0 >= 0x80 }) {
            return keyFrame.withMemoryRebound(to: UInt8.self) { String(decoding: $0, as: UTF8.self) }
        }
        guard let key = String(validating: keyFrame, as: UTF8.self) else { throw Rejection(.key, "key is not UTF-8") }
        return key
    }

    /// The parser's way, for every header: each field checked in the contract's order.
    private func parse(key: String, headerFrame: UnsafeRawBufferPointer) throws(Rejection) -> InboundHeader {
        guard String(validating: headerFrame, as: UTF8.self) != nil else { throw Rejection(.header, "header is not UTF-8") }
        let header: JSONValue
        let raw = Array(headerFrame)
        do {
            header = try JSONParser.parse(raw, maxDepth: Self.maxHeaderDepth)
        } catch {
            throw Rejection(.header, "header is not valid JSON: \(error)")
        }
        guard header.objectValue != nil else { throw Rejection(.header, "header is not a JSON object") }
        var seq: UInt64?
        if let value = header["seq"] {
            guard let number = value.uint64Value else { throw Rejection(.header, "seq is not an unsigned 64-bit integer") }
            seq = number
        }

        guard let dtypeValue = header["dtype"] else { throw Rejection(.dtype, "dtype is missing") }
        guard let dtypeName = dtypeValue.stringValue else { throw Rejection(.dtype, "dtype is not a string") }
        guard let dtype = DType(rawValue: dtypeName) else { throw Rejection(.dtype, "unknown dtype \"\(dtypeName)\"") }

        guard let shapeValue = header["shape"] else { throw Rejection(.shape, "shape is missing") }
        guard let items = shapeValue.arrayValue, (2...5).contains(items.count) else {
            throw Rejection(.shape, "shape must be an array of 2 to 5 positive integers")
        }
        var shape: [Int] = []
        for item in items {
            guard let dimension = item.uint64Value, dimension > 0, dimension <= UInt64(Int.max) else {
                throw Rejection(.shape, "shape must be an array of 2 to 5 positive integers")
            }
            shape.append(Int(dimension))
        }
        let layout = { () throws(Rejection) -> TensorLayout in
            guard let layoutValue = header["layout"] else { return .nchw }
            guard let name = layoutValue.stringValue, let parsed = TensorLayout(rawValue: name) else {
                throw Rejection(.layout, "layout must be \"NCHW\" or \"NHWC\"")
            }
            return parsed
        }
        return try describe(
            key: key, dtype: dtype, shape: shape, layout: layout, raw: raw,
            splices: raw.withUnsafeBytes { HeaderSplice.forEachMember($0) { _ in } }, copy: nil, seq: seq)
    }

    /// The checks both ways share, after dtype and shape are read: size, the layout (read only
    /// here, as the contract orders it), channels and groups.
    private func describe(
        key: String, dtype: DType, shape: [Int], layout: () throws(Rejection) -> TensorLayout, raw: [UInt8],
        splices: Bool, copy: HeaderSplice.Copy?, seq: UInt64?
    ) throws(Rejection) -> InboundHeader {
        let geometry: TensorGeometry
        do {
            geometry = try TensorGeometry(shape: shape)
        } catch {
            throw Rejection(.shape, error.message)
        }
        guard let bytes = geometry.byteCount(dtype) else { throw Rejection(.shape, "shape \(shape) in \(dtype.rawValue) overflows 64 bits") }
        guard bytes <= maxMessageBytes else {
            throw Rejection(.tooLarge, "shape \(shape) in \(dtype.rawValue) is \(bytes) bytes, max_message_bytes is \(maxMessageBytes)")
        }
        let layout = try layout()
        if channels != 0 && geometry.channels != channels {
            throw Rejection(.channels, "batch has \(geometry.channels) channels, pipeline has \(channels)")
        }
        if let groups, geometry.channels % groups != 0 {
            throw Rejection(.channels, "groups \(groups) do not divide channels \(geometry.channels)")
        }
        return InboundHeader(
            key: key, descriptor: TensorDescriptor(dtype: dtype, layout: layout, geometry: geometry), raw: raw, splices: splices, copy: copy, seq: seq
        )
    }
}
