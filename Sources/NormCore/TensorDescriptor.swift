/// Describes a payload: its element type, memory layout and NCHW-terms shape.
public struct TensorDescriptor: Sendable, Equatable {
    public var dtype: DType
    public var layout: TensorLayout
    public var geometry: TensorGeometry

    public init(dtype: DType, layout: TensorLayout = .nchw, geometry: TensorGeometry) {
        self.dtype = dtype
        self.layout = layout
        self.geometry = geometry
    }

    /// The payload size this descriptor requires; validated when the geometry was made.
    public var byteCount: Int { geometry.byteCount(dtype) ?? .max }
}
