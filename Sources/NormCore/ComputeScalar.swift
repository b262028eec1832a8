/// The precision the apply pass computes in: Float, or Double when float64 is involved.
protocol ComputeScalar: BinaryFloatingPoint, SIMDScalar, Codable {
    static func load8<E: StoredElement>(_: E.Type, _ base: UnsafeRawPointer, _ index: Int) -> SIMD8<Self>
    static func store8<E: StoredElement>(_: E.Type, _ value: SIMD8<Self>, _ base: UnsafeMutableRawPointer, _ index: Int)
}

extension Float: ComputeScalar {
    @inline(__always)
    static func load8<E: StoredElement>(_: E.Type, _ base: UnsafeRawPointer, _ index: Int) -> SIMD8<Float> {
        E.loadFloat8(base, index)
    }
    @inline(__always)
    static func store8<E: StoredElement>(_: E.Type, _ value: SIMD8<Float>, _ base: UnsafeMutableRawPointer, _ index: Int) {
        E.storeFloat8(value, base, index)
    }
}

extension Double: ComputeScalar {
    @inline(__always)
    static func load8<E: StoredElement>(_: E.Type, _ base: UnsafeRawPointer, _ index: Int) -> SIMD8<Double> {
        E.loadDouble8(base, index)
    }
    @inline(__always)
    static func store8<E: StoredElement>(_: E.Type, _ value: SIMD8<Double>, _ base: UnsafeMutableRawPointer, _ index: Int) {
        E.storeDouble8(value, base, index)
    }
}
