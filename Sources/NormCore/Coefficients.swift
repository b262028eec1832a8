/// Per-(sample, channel) — or per-channel for batch — constants of `y = ((x − hi) − lo)·scale + beta`.
///
/// The mean is split into `hi + lo` so that a float32 apply pass keeps float64 accuracy of the
/// mean: `x − hi` is exact when x is near the mean, which is where precision matters.
struct Coefficients {
    var hi: [Double] = []
    var lo: [Double] = []
    var scale: [Double] = []
    var beta: [Double] = []
    /// For layer with a full `[C, *S]` affine: γ and β per element, in the tensor's memory order.
    var elementWeight: [Double]? = nil
    var elementBias: [Double]? = nil
    /// Whether index (n, c) is `n·C + c` (true) or just `c`.
    var perSample: Bool

    /// `capacity`: how many constants will be appended (one allocation per array, not one per doubling).
    init(perSample: Bool, capacity: Int) {
        self.perSample = perSample
        hi.reserveCapacity(capacity)
        lo.reserveCapacity(capacity)
        scale.reserveCapacity(capacity)
        beta.reserveCapacity(capacity)
    }

    mutating func append(mean: Double, invStd: Double, gamma: Double, beta b: Double, roundMeanTo: (Double) -> Double) {
        let high = roundMeanTo(mean)
        hi.append(high)
        lo.append(mean - high)
        scale.append(gamma * invStd)
        beta.append(b)
    }
}
