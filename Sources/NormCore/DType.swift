/// The element types a tensor can travel in.
public enum DType: String, Sendable, CaseIterable, Codable {
    case float32, float64, float16, bfloat16

    /// Bytes per element.
    public var itemSize: Int {
        switch self {
        case .float32: 4
        case .float64: 8
        case .float16, .bfloat16: 2
        }
    }
}

/// Where the channel axis sits in memory.
public enum TensorLayout: String, Sendable, CaseIterable, Codable {
    /// Channels right after the batch axis: `[N, C, ...spatial]`.
    case nchw = "NCHW"
    /// Channels last: `[N, ...spatial, C]` in memory.
    case nhwc = "NHWC"
}
