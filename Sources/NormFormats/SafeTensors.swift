import Foundation
import NormCore

/// The safetensors format: an 8-byte little-endian header length, a JSON header naming each
/// tensor's dtype, shape and byte range, then the data. Enough of it for state and `init` files.
public struct SafeTensors: Sendable, Equatable {
    public enum DType: String, Sendable {
        case f64 = "F64"
        case f32 = "F32"
        case f16 = "F16"
        case bf16 = "BF16"
        case i64 = "I64"
        var size: Int {
            switch self {
            case .f64, .i64: 8
            case .f32: 4
            case .f16, .bf16: 2
            }
        }
    }

    public struct Tensor: Sendable, Equatable {
        public var dtype: DType
        public var shape: [Int]
        public var data: [UInt8]

        public init(dtype: DType, shape: [Int], data: [UInt8]) {
            self.dtype = dtype
            self.shape = shape
            self.data = data
        }

        public static func float64(_ values: [Double], shape: [Int]? = nil) -> Tensor {
            Tensor(dtype: .f64, shape: shape ?? [values.count], data: values.withUnsafeBytes { Array($0) })
        }
        public static func float32(_ values: [Float], shape: [Int]? = nil) -> Tensor {
            Tensor(dtype: .f32, shape: shape ?? [values.count], data: values.withUnsafeBytes { Array($0) })
        }
        public static func int64(_ value: Int64) -> Tensor {
            Tensor(dtype: .i64, shape: [], data: withUnsafeBytes(of: value.littleEndian) { Array($0) })
        }

        public var elementCount: Int { shape.reduce(1, *) }

        /// The values as Double, from any float dtype.
        public var doubles: [Double]? {
            data.withUnsafeBytes { raw in
                (0..<elementCount).map { i -> Double in
                    switch dtype {
                    case .f64: raw.loadUnaligned(fromByteOffset: i * 8, as: Double.self)
                    case .f32: Double(raw.loadUnaligned(fromByteOffset: i * 4, as: Float.self))
                    case .f16: Double(raw.loadUnaligned(fromByteOffset: i * 2, as: Float16.self))
                    case .bf16: Double(Float(bitPattern: UInt32(raw.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)) << 16))
                    case .i64: Double(raw.loadUnaligned(fromByteOffset: i * 8, as: Int64.self))
                    }
                }
            }
        }

        public var int64Scalar: Int64? {
            guard dtype == .i64, elementCount == 1 else { return nil }
            return data.withUnsafeBytes { $0.loadUnaligned(as: Int64.self) }
        }
    }

    public var metadata: [String: String]
    /// By name, as bytes: two spellings of one name are two tensors (see `ExactString`).
    public var tensors: [ExactString: Tensor]

    public init(metadata: [String: String], tensors: [ExactString: Tensor]) {
        self.metadata = metadata
        self.tensors = tensors
    }

    public struct FormatError: Error, Sendable, CustomStringConvertible {
        public let message: String
        public init(message: String) { self.message = message }
        public var description: String { message }
    }

    /// Serialized bytes; tensors in name order (by bytes), header padded to 8 bytes.
    public func encoded() -> [UInt8] {
        var writer = SafeTensorsWriter(metadata: metadata, expectedTensors: tensors.count, expectedBytes: tensors.values.reduce(0) { $0 + $1.data.count })
        for (name, tensor) in tensors.sorted(by: { $0.key < $1.key }) { writer.append(name: name.string, tensor) }
        return writer.finish()
    }

    /// The longest header a reader accepts (the reference implementation's limit).
    public static let maxHeaderLength: UInt64 = 100_000_000

    /// What is wrong with a file that begins with these 8 bytes, or nil: a header length of
    /// less than 2 (the shortest JSON object, `{}`) or past `maxHeaderLength` is not
    /// safetensors. A reader checks this before reading on, so `/dev/zero` or random bytes are
    /// refused after 8 bytes rather than read up to a size limit.
    public static func prefixProblem(_ prefix: ArraySlice<UInt8>) -> String? {
        guard prefix.count >= 8 else { return "shorter than its 8-byte header length" }
        var length: UInt64 = 0
        for (shift, byte) in prefix.prefix(8).enumerated() { length |= UInt64(byte) << (8 * UInt64(shift)) }
        guard length >= 2, length <= maxHeaderLength else {
            return "its first 8 bytes give a header length of \(length), outside 2...\(maxHeaderLength)"
        }
        return nil
    }

    /// Parses and checks every offset and size; a truncated or corrupt file is an error.
    public static func decode(_ bytes: [UInt8]) throws(FormatError) -> SafeTensors {
        guard bytes.count >= 8 else { throw FormatError(message: "shorter than its 8-byte header length") }
        if let problem = prefixProblem(bytes[0..<8]) { throw FormatError(message: problem) }
        let headerLength = bytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        guard headerLength <= UInt64(bytes.count - 8) else {
            throw FormatError(message: "header length \(headerLength) exceeds the file")
        }
        let headerEnd = 8 + Int(headerLength)
        let header: JSONValue
        do {
            header = try JSONParser.parse(Array(bytes[8..<headerEnd]), maxDepth: 8)
        } catch {
            throw FormatError(message: "header is not JSON: \(error)")
        }
        guard let members = header.objectValue else { throw FormatError(message: "header is not an object") }
        let dataSize = bytes.count - headerEnd
        var result = SafeTensors(metadata: [:], tensors: [:])
        for (name, value) in members {
            if name == "__metadata__" {
                for (key, item) in value.objectValue ?? [] { result.metadata[key] = item.stringValue }
                continue
            }
            guard let dtypeName = value["dtype"]?.stringValue, let dtype = DType(rawValue: dtypeName) else {
                throw FormatError(message: "tensor \(name) has an unsupported dtype")
            }
            // Every dimension and offset a whole number: one that is not is an error, not left out.
            let dimensions = value["shape"]?.arrayValue?.map(\.intValue)
            let bounds = value["data_offsets"]?.arrayValue?.map(\.intValue)
            guard let dimensions, let bounds, !dimensions.contains(nil), !bounds.contains(nil) else {
                throw FormatError(message: "tensor \(name) has a bad shape or data range")
            }
            let shape = dimensions.map { $0! }
            let offsets = bounds.map { $0! }
            guard shape.allSatisfy({ $0 >= 0 }), offsets.count == 2, offsets[0] >= 0, offsets[0] <= offsets[1], offsets[1] <= dataSize else {
                throw FormatError(message: "tensor \(name) has a bad shape or data range")
            }
            let (count, overflow) = (shape + [dtype.size]).reduce((1, false)) { acc, d in
                let r = acc.0.multipliedReportingOverflow(by: d)
                return (r.partialValue, acc.1 || r.overflow)
            }
            guard !overflow, count == offsets[1] - offsets[0] else {
                throw FormatError(message: "tensor \(name): shape \(shape) does not match its \(offsets[1] - offsets[0]) bytes")
            }
            result.tensors[ExactString(name)] = Tensor(dtype: dtype, shape: shape, data: Array(bytes[(headerEnd + offsets[0])..<(headerEnd + offsets[1])]))
        }
        return result
    }
}
