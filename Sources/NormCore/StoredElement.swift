/// How one dtype's elements are read from and written to raw (possibly unaligned) memory,
/// eight at a time in the hot loops.
protocol StoredElement {
    static var size: Int { get }
    static func loadFloat8(_ base: UnsafeRawPointer, _ index: Int) -> SIMD8<Float>
    static func loadDouble8(_ base: UnsafeRawPointer, _ index: Int) -> SIMD8<Double>
    static func loadDouble(_ base: UnsafeRawPointer, _ index: Int) -> Double
    static func storeFloat8(_ value: SIMD8<Float>, _ base: UnsafeMutableRawPointer, _ index: Int)
    static func storeDouble8(_ value: SIMD8<Double>, _ base: UnsafeMutableRawPointer, _ index: Int)
    static func storeDouble(_ value: Double, _ base: UnsafeMutableRawPointer, _ index: Int)
}

extension StoredElement {
    static func loadDouble8(_ base: UnsafeRawPointer, _ index: Int) -> SIMD8<Double> {
        SIMD8<Double>(loadFloat8(base, index))
    }
    static func storeDouble8(_ value: SIMD8<Double>, _ base: UnsafeMutableRawPointer, _ index: Int) {
        storeFloat8(SIMD8<Float>(value), base, index)
    }
}

enum Float32Element: StoredElement {
    static var size: Int { 4 }
    static func loadFloat8(_ base: UnsafeRawPointer, _ index: Int) -> SIMD8<Float> {
        base.loadUnaligned(fromByteOffset: index &* 4, as: SIMD8<Float>.self)
    }
    static func loadDouble(_ base: UnsafeRawPointer, _ index: Int) -> Double {
        Double(base.loadUnaligned(fromByteOffset: index &* 4, as: Float.self))
    }
    static func storeFloat8(_ value: SIMD8<Float>, _ base: UnsafeMutableRawPointer, _ index: Int) {
        base.storeBytes(of: value, toByteOffset: index &* 4, as: SIMD8<Float>.self)
    }
    static func storeDouble(_ value: Double, _ base: UnsafeMutableRawPointer, _ index: Int) {
        base.storeBytes(of: Float(value), toByteOffset: index &* 4, as: Float.self)
    }
}

enum Float64Element: StoredElement {
    static var size: Int { 8 }
    static func loadFloat8(_ base: UnsafeRawPointer, _ index: Int) -> SIMD8<Float> {
        SIMD8<Float>(loadDouble8(base, index))
    }
    static func loadDouble8(_ base: UnsafeRawPointer, _ index: Int) -> SIMD8<Double> {
        base.loadUnaligned(fromByteOffset: index &* 8, as: SIMD8<Double>.self)
    }
    static func loadDouble(_ base: UnsafeRawPointer, _ index: Int) -> Double {
        base.loadUnaligned(fromByteOffset: index &* 8, as: Double.self)
    }
    static func storeFloat8(_ value: SIMD8<Float>, _ base: UnsafeMutableRawPointer, _ index: Int) {
        storeDouble8(SIMD8<Double>(value), base, index)
    }
    static func storeDouble8(_ value: SIMD8<Double>, _ base: UnsafeMutableRawPointer, _ index: Int) {
        base.storeBytes(of: value, toByteOffset: index &* 8, as: SIMD8<Double>.self)
    }
    static func storeDouble(_ value: Double, _ base: UnsafeMutableRawPointer, _ index: Int) {
        base.storeBytes(of: value, toByteOffset: index &* 8, as: Double.self)
    }
}

enum Float16Element: StoredElement {
    static var size: Int { 2 }
    static func loadFloat8(_ base: UnsafeRawPointer, _ index: Int) -> SIMD8<Float> {
        SIMD8<Float>(base.loadUnaligned(fromByteOffset: index &* 2, as: SIMD8<Float16>.self))
    }
    static func loadDouble(_ base: UnsafeRawPointer, _ index: Int) -> Double {
        Double(base.loadUnaligned(fromByteOffset: index &* 2, as: Float16.self))
    }
    static func storeFloat8(_ value: SIMD8<Float>, _ base: UnsafeMutableRawPointer, _ index: Int) {
        base.storeBytes(of: SIMD8<Float16>(value), toByteOffset: index &* 2, as: SIMD8<Float16>.self)
    }
    static func storeDouble(_ value: Double, _ base: UnsafeMutableRawPointer, _ index: Int) {
        base.storeBytes(of: Float16(value), toByteOffset: index &* 2, as: Float16.self)
    }
}

/// bfloat16 is the upper half of a float32; stores round to nearest even and keep NaN a NaN.
enum BFloat16Element: StoredElement {
    static var size: Int { 2 }
    static func loadFloat8(_ base: UnsafeRawPointer, _ index: Int) -> SIMD8<Float> {
        let half = base.loadUnaligned(fromByteOffset: index &* 2, as: SIMD8<UInt16>.self)
        let bits = SIMD8<UInt32>(truncatingIfNeeded: half) &<< 16
        return unsafeBitCast(bits, to: SIMD8<Float>.self)
    }
    static func loadDouble(_ base: UnsafeRawPointer, _ index: Int) -> Double {
        let half = base.loadUnaligned(fromByteOffset: index &* 2, as: UInt16.self)
        return Double(Float(bitPattern: UInt32(half) << 16))
    }
    static func storeFloat8(_ value: SIMD8<Float>, _ base: UnsafeMutableRawPointer, _ index: Int) {
        let bits = unsafeBitCast(value, to: SIMD8<UInt32>.self)
        let rounding = ((bits &>> 16) & 1) &+ 0x7FFF
        var rounded = (bits &+ rounding) &>> 16
        let isNaN = (bits & 0x7FFF_FFFF) .> 0x7F80_0000
        rounded.replace(with: (bits &>> 16) | 0x0040, where: isNaN)
        base.storeBytes(of: SIMD8<UInt16>(truncatingIfNeeded: rounded), toByteOffset: index &* 2, as: SIMD8<UInt16>.self)
    }
    static func storeDouble(_ value: Double, _ base: UnsafeMutableRawPointer, _ index: Int) {
        let bits = Float(value).bitPattern
        let half: UInt32 = (bits & 0x7FFF_FFFF) > 0x7F80_0000
            ? (bits >> 16) | 0x0040
            : (bits &+ ((bits >> 16) & 1) &+ 0x7FFF) >> 16
        base.storeBytes(of: UInt16(truncatingIfNeeded: half), toByteOffset: index &* 2, as: UInt16.self)
    }
}
