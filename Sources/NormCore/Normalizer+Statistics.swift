extension Normalizer {
    /// Moves running statistics one batch forward from the batch's channel statistics, as torch.nn
    /// does after a training step.
    func update(_ statistics: inout RunningStatistics, mean batchMean: UnsafeBufferPointer<Double>, variance batchVariance: UnsafeBufferPointer<Double>) throws(NormError) {
        let channels = batchMean.count
        // A count loaded at Int64's largest (a file or bucket entry written by another tool) stays
        // there: no stream reaches it by counting, and the increment must not trap.
        let tracked = statistics.batchesTracked == .max ? .max : statistics.batchesTracked + 1
        let m = settings.momentum.factor(afterIncrement: tracked)
        func moved(_ running: Double, _ batch: Double) -> Double { (1 - m) * running + m * batch }
        // Checked before anything is written, so a refused batch leaves the statistics as they were.
        for c in 0..<channels where !moved(statistics.mean[c], batchMean[c]).isFinite || !moved(statistics.variance[c], batchVariance[c]).isFinite {
            throw NormError(.nonfinite, "running statistics would become non-finite")
        }
        // Written where they are: in place when nothing else holds the arrays (the store checks
        // them out into arrays of their own), copied first otherwise.
        statistics.mean.withUnsafeMutableBufferPointer { mean in
            for c in 0..<channels { mean[c] = moved(mean[c], batchMean[c]) }
        }
        statistics.variance.withUnsafeMutableBufferPointer { variance in
            for c in 0..<channels { variance[c] = moved(variance[c], batchVariance[c]) }
        }
        statistics.batchesTracked = tracked
    }

    /// The apply pass's constants, from the batch's moments or from running statistics.
    func coefficients(
        plan: BatchPlan, moments: UnsafeBufferPointer<Moments>, running: RunningStatistics?, affine: Affine?, doublePrecision: Bool
    ) -> Coefficients {
        let layout = coefficientLayout(plan: plan, fromRunning: running != nil, affine: affine)
        var result = Coefficients(perSample: layout.perSample, count: layout.count)
        writeCoefficients(into: &result, plan: plan, moments: moments, running: running, affine: affine, doublePrecision: doublePrecision)
        if layout.elementAffine, let affine {
            result.elementWeight = Self.memoryOrder(affine.weight, plan: plan)
            result.elementBias = Self.memoryOrder(affine.bias, plan: plan)
        }
        return result
    }

    /// How many constants `writeCoefficients` writes, indexed by what.
    func coefficientLayout(plan: BatchPlan, fromRunning: Bool, affine: Affine?) -> CoefficientLayout {
        if fromRunning || settings.kind == .batch { return CoefficientLayout(perSample: false, count: plan.channels, elementAffine: false) }
        if settings.kind == .layer, let affine, affine.weight.count != plan.channels {
            return CoefficientLayout(perSample: true, count: plan.batch, elementAffine: true)
        }
        return CoefficientLayout(perSample: true, count: plan.batch * plan.channels, elementAffine: false)
    }

    /// Writes the constants `coefficientLayout` describes into `sink`, in index order: the mean
    /// split into `hi + lo` (hi rounded to the compute precision), the scale γ/σ and β.
    func writeCoefficients<Sink: CoefficientSink>(
        into sink: inout Sink, plan: BatchPlan, moments: UnsafeBufferPointer<Moments>, running: RunningStatistics?, affine: Affine?,
        doublePrecision: Bool
    ) {
        let channels = plan.channels
        let perChannelAffine = affine.map { $0.weight.count == channels } ?? true
        func gamma(_ c: Int) -> Double { perChannelAffine ? affine.map { Double($0.weight[c]) } ?? 1 : 1 }
        func beta(_ c: Int) -> Double { perChannelAffine ? affine.map { Double($0.bias[c]) } ?? 0 : 0 }
        func put(mean: Double, variance: Double, gamma: Double, beta: Double) {
            let k = constants(mean: mean, variance: variance, gamma: gamma, beta: beta, doublePrecision: doublePrecision)
            sink.append(hi: k.hi, lo: k.lo, scale: k.scale, beta: k.beta)
        }

        let layout = coefficientLayout(plan: plan, fromRunning: running != nil, affine: affine)
        if let running {
            for c in 0..<channels { put(mean: running.mean[c], variance: running.variance[c], gamma: gamma(c), beta: beta(c)) }
        } else if settings.kind == .batch {
            for c in 0..<channels { put(mean: moments[c].mean, variance: moments[c].variance(settings.variance), gamma: gamma(c), beta: beta(c)) }
        } else if layout.elementAffine {
            for n in 0..<plan.batch { put(mean: moments[n].mean, variance: moments[n].variance(settings.variance), gamma: 1, beta: 0) }
        } else {
            for n in 0..<plan.batch {
                for c in 0..<channels {
                    let m = moments[plan.partition(sample: n, channel: c)]
                    put(mean: m.mean, variance: m.variance(settings.variance), gamma: gamma(c), beta: beta(c))
                }
            }
        }
    }

    /// One partition's constants: the mean split into `hi + lo` (hi rounded to the compute
    /// precision), the scale γ/σ and β. Every path that normalizes with a batch's statistics
    /// makes its constants here, so each rounds them the same way.
    @inline(__always)
    func constants(mean: Double, variance: Double, gamma: Double, beta: Double, doublePrecision: Bool)
        -> (hi: Double, lo: Double, scale: Double, beta: Double)
    {
        let high = doublePrecision ? mean : Double(Float(mean))
        let invStd = 1 / (variance + settings.eps).squareRoot()
        return (high, mean - high, gamma * invStd, beta)
    }

    /// A `[C, *S]` tensor rearranged to the order one sample's elements have in memory.
    static func memoryOrder(_ values: [Float], plan: BatchPlan) -> [Double] {
        guard plan.layout == .nhwc else { return values.map(Double.init) }
        let channels = plan.channels, spatial = plan.spatial
        var result = [Double](repeating: 0, count: values.count)
        for c in 0..<channels {
            for s in 0..<spatial { result[s * channels + c] = Double(values[c * spatial + s]) }
        }
        return result
    }
}
