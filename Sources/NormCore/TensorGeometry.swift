/// The shape of a batch in NCHW terms, `[N, C, ...spatial]`, validated once.
public struct TensorGeometry: Sendable, Equatable, Hashable {
    /// The dimensions as written on the wire, `[N, C, ...spatial]`.
    public let shape: [Int]
    /// Product of the spatial dimensions (1 for `[N, C]`).
    public let spatial: Int
    /// Product of all dimensions.
    public let elementCount: Int

    public var batch: Int { shape[0] }
    public var channels: Int { shape[1] }

    /// Checks rank 2–5, positive dimensions and that the element count fits in 64 bits.
    public init(shape: [Int]) throws(NormError) {
        guard (2...5).contains(shape.count) else {
            throw NormError(.shape, "shape must have 2 to 5 dimensions, got \(shape.count)")
        }
        var product = 1
        for dimension in shape {
            guard dimension > 0 else {
                throw NormError(.shape, "shape dimensions must be positive, got \(shape)")
            }
            let (next, overflow) = product.multipliedReportingOverflow(by: dimension)
            guard !overflow else { throw NormError(.shape, "shape \(shape) overflows 64 bits") }
            product = next
        }
        self.shape = shape
        self.elementCount = product
        self.spatial = product / (shape[0] * shape[1])
    }

    /// Bytes the payload must hold in `dtype`, or nil when that overflows 64 bits.
    public func byteCount(_ dtype: DType) -> Int? {
        let (bytes, overflow) = elementCount.multipliedReportingOverflow(by: dtype.itemSize)
        return overflow ? nil : bytes
    }
}
