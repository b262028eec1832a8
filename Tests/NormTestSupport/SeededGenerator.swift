/// The tests' one source of test data: SplitMix64, seeded, so every run sees the same numbers and
/// no test needs fixtures for its inputs (golden outputs still come from committed fixtures).
public struct SeededGenerator: RandomNumberGenerator {
    public var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform value in [0, 1).
    public mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }

    /// Roughly normal values (the sum of twelve uniforms), enough for moments tests.
    public mutating func normal(mean: Double, std: Double) -> Double {
        var s = 0.0
        for _ in 0..<12 { s += unit() }
        return mean + (s - 6) * std
    }
}

/// `count` roughly normal Float values from `seed`.
public func seededFloats(_ count: Int, seed: UInt64, mean: Double = 0, std: Double = 1) -> [Float] {
    var generator = SeededGenerator(seed: seed)
    return (0..<count).map { _ in Float(generator.normal(mean: mean, std: std)) }
}
