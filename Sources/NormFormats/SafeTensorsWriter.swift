/// Writes a safetensors file tensor by tensor, in the order given: the JSON header is built
/// straight as bytes and the data appended once, so a state file with many keys costs one pass
/// (no intermediate dictionaries, JSON values or sorts).
public struct SafeTensorsWriter: Sendable {
    private var header: [UInt8] = []
    private var data: [UInt8] = []

    /// `expectedTensors` and `expectedBytes` only reserve capacity.
    public init(metadata: [String: String], expectedTensors: Int = 0, expectedBytes: Int = 0) {
        header.reserveCapacity(64 + expectedTensors * 96)
        data.reserveCapacity(expectedBytes)
        header.append(UInt8(ascii: "{"))
        Self.appendString("__metadata__", to: &header)
        header.append(UInt8(ascii: ":"))
        header.append(UInt8(ascii: "{"))
        for (i, (key, value)) in metadata.sorted(by: { $0.key < $1.key }).enumerated() {
            if i > 0 { header.append(UInt8(ascii: ",")) }
            Self.appendString(key, to: &header)
            header.append(UInt8(ascii: ":"))
            Self.appendString(value, to: &header)
        }
        header.append(UInt8(ascii: "}"))
    }

    /// Adds one tensor; `bytes` holds its elements, little-endian, `shape` of them in all.
    public mutating func append(name: String, dtype: SafeTensors.DType, shape: [Int], bytes: UnsafeRawBufferPointer) {
        header.append(UInt8(ascii: ","))
        Self.appendString(name, to: &header)
        header.append(contentsOf: #":{"dtype":""#.utf8)
        header.append(contentsOf: dtype.rawValue.utf8)
        header.append(contentsOf: #"","shape":["#.utf8)
        for (i, extent) in shape.enumerated() {
            if i > 0 { header.append(UInt8(ascii: ",")) }
            header.append(contentsOf: String(extent).utf8)
        }
        header.append(contentsOf: #"],"data_offsets":["#.utf8)
        header.append(contentsOf: String(data.count).utf8)
        header.append(UInt8(ascii: ","))
        header.append(contentsOf: String(data.count + bytes.count).utf8)
        header.append(contentsOf: "]}".utf8)
        data.append(contentsOf: bytes)
    }

    public mutating func append(name: String, _ tensor: SafeTensors.Tensor) {
        tensor.data.withUnsafeBytes { append(name: name, dtype: tensor.dtype, shape: tensor.shape, bytes: $0) }
    }

    public mutating func append(name: String, float64 values: [Double]) {
        values.withUnsafeBytes { append(name: name, dtype: .f64, shape: [values.count], bytes: $0) }
    }

    public mutating func append(name: String, int64 value: Int64) {
        withUnsafeBytes(of: value.littleEndian) { append(name: name, dtype: .i64, shape: [], bytes: $0) }
    }

    /// The file: header length, header (padded with spaces to 8 bytes), data.
    public consuming func finish() -> [UInt8] {
        header.append(UInt8(ascii: "}"))
        while header.count % 8 != 0 { header.append(0x20) }
        var out: [UInt8] = []
        out.reserveCapacity(8 + header.count + data.count)
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: header)
        out.append(contentsOf: data)
        return out
    }

    /// A JSON string of `text`'s UTF-8 bytes, escaping quotes, backslashes and control bytes.
    static func appendString(_ text: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                out.append(UInt8(ascii: "\\"))
                out.append(byte)
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                out.append(contentsOf: "\\u00".utf8)
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0xF)])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
