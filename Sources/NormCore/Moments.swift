/// Count, mean and sum of squared deviations of a set of values; merged with Chan's formula so
/// pieces summed in any grouping agree to float64 rounding.
struct Moments: Sendable, Equatable {
    var count: Double = 0
    var mean: Double = 0
    var m2: Double = 0

    /// Moments from sums of `value − shift` over `count` values.
    init(count: Double, shift: Double, sum: Double, sumOfSquares: Double) {
        self.count = count
        guard count > 0 else { return }
        let delta = sum / count
        mean = shift + delta
        // Rounding can leave a tiny negative; NaN must stay NaN so non-finite input is seen.
        m2 = sumOfSquares - sum * delta
        if m2 < 0 { m2 = 0 }
    }

    init() {}

    mutating func merge(_ other: Moments) {
        guard other.count > 0 else { return }
        guard count > 0 else {
            self = other
            return
        }
        let total = count + other.count
        let delta = other.mean - mean
        mean += delta * (other.count / total)
        m2 += other.m2 + delta * delta * (count * other.count / total)
        count = total
    }

    var biasedVariance: Double { count > 0 ? m2 / count : .nan }
    var unbiasedVariance: Double { count > 1 ? m2 / (count - 1) : .nan }

    /// The variance that divides the input under `estimator`.
    func variance(_ estimator: VarianceEstimator) -> Double {
        estimator == .biased ? biasedVariance : unbiasedVariance
    }
    var isFinite: Bool { mean.isFinite && m2.isFinite }
}
