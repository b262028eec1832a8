import Foundation
import ZeroMQ

/// The float32 batches one soak producer cycles through, drawn once from a fixed seed so the
/// producer's pace is not set by a random number generator, with each batch's per-channel mean
/// and unbiased variance computed here in float64 by plain two-pass loops — a reference that
/// shares no code with NormCore's kernels.
struct SoakBatchPool: @unchecked Sendable {
    // @unchecked: the buffers are filled in init and only read afterwards, by their producer
    // thread and by libzmq's I/O thread while a zero-copy message is in flight.
    static let shape = [8, 4, 64]
    static let channels = shape[1]
    static let elements = shape.reduce(1, *)
    static let header = "{\"dtype\":\"float32\",\"shape\":[8,4,64]"

    let batches: [ZMQBuffer]
    /// `means[i][c]`, `variances[i][c]`: batch i, channel c, float64 (variance unbiased).
    let means: [[Double]]
    let variances: [[Double]]
    /// The first batch with a NaN at element 5: the malformed `nonfinite` message.
    let nonFinite: ZMQBuffer

    init(seed: UInt64, count: Int = 97) {
        var random = SplitMix64(seed: seed)
        var batches: [ZMQBuffer] = []
        var means: [[Double]] = []
        var variances: [[Double]] = []
        for _ in 0..<count {
            let center = random.uniform(-5, 5)
            let spread = random.uniform(0.5, 3)
            let buffer = ZMQBuffer(count: Self.elements * 4)
            let values = buffer.bytes.bindMemory(to: Float.self, capacity: Self.elements)
            for i in 0..<Self.elements { values[i] = Float(center + spread * random.normal()) }
            let (mean, variance) = Self.moments(UnsafeBufferPointer(start: values, count: Self.elements))
            batches.append(buffer)
            means.append(mean)
            variances.append(variance)
        }
        self.batches = batches
        self.means = means
        self.variances = variances
        nonFinite = ZMQBuffer(count: Self.elements * 4)
        nonFinite.bytes.copyMemory(from: batches[0].bytes, byteCount: Self.elements * 4)
        nonFinite.bytes.storeBytes(of: Float.nan, toByteOffset: 5 * 4, as: Float.self)
    }

    /// Per-channel mean and unbiased variance of an `[N, C, L]` batch, float64, two passes.
    static func moments(_ values: UnsafeBufferPointer<Float>) -> ([Double], [Double]) {
        let (n, c, l) = (shape[0], shape[1], shape[2])
        var means = [Double](repeating: 0, count: c)
        var variances = [Double](repeating: 0, count: c)
        let count = Double(n * l)
        for channel in 0..<c {
            var sum = 0.0
            for sample in 0..<n { for i in 0..<l { sum += Double(values[(sample * c + channel) * l + i]) } }
            let mean = sum / count
            var squares = 0.0
            for sample in 0..<n {
                for i in 0..<l {
                    let d = Double(values[(sample * c + channel) * l + i]) - mean
                    squares += d * d
                }
            }
            means[channel] = mean
            variances[channel] = squares / (count - 1)
        }
        return (means, variances)
    }
}

/// A small seeded generator (SplitMix64) with uniform and normal draws.
struct SplitMix64 {
    private var state: UInt64
    init(seed: UInt64) { state = seed &* 0x9E37_79B9_7F4A_7C15 &+ 1 }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }
    mutating func uniform(_ low: Double, _ high: Double) -> Double { low + (high - low) * unit() }
    /// Standard normal, Box–Muller.
    mutating func normal() -> Double {
        let u = 1 - unit()
        let v = unit()
        return (-2 * log(u)).squareRoot() * cos(2 * .pi * v)
    }
}
