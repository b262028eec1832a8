import NormCore

/// `values` as a payload of `dtype`, little-endian, as a producer would send them (bfloat16
/// truncated, float16 rounded by Swift's conversion).
public func payloadBytes(_ values: [Float], _ dtype: DType) -> [UInt8] {
    var bytes: [UInt8] = []
    bytes.reserveCapacity(values.count * dtype.itemSize)
    for value in values {
        switch dtype {
        case .float32: withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes += $0 }
        case .float64: withUnsafeBytes(of: Double(value).bitPattern.littleEndian) { bytes += $0 }
        case .float16: withUnsafeBytes(of: Float16(value).bitPattern.littleEndian) { bytes += $0 }
        case .bfloat16: withUnsafeBytes(of: UInt16(truncatingIfNeeded: value.bitPattern >> 16).littleEndian) { bytes += $0 }
        }
    }
    return bytes
}
