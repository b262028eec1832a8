extension Normalizer {
    /// Moves running statistics one batch forward from the batch's channel statistics, as torch.nn
    /// does after a training step.
    func update(_ statistics: inout RunningStatistics, mean batchMean: UnsafeBufferPointer<Double>, variance batchVariance: UnsafeBufferPointer<Double>) throws(NormError) {
        let channels = batchMean.count
        let tracked = statistics.batchesTracked + 1
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
    ) throws(NormError) -> Coefficients {
        let channels = plan.channels
        let round: (Double) -> Double = doublePrecision ? { $0 } : { Double(Float($0)) }
        let perChannelAffine = affine.map { $0.weight.count == channels } ?? true
        func gamma(_ c: Int) -> Double { perChannelAffine ? affine.map { Double($0.weight[c]) } ?? 1 : 1 }
        func beta(_ c: Int) -> Double { perChannelAffine ? affine.map { Double($0.bias[c]) } ?? 0 : 0 }
        func invStd(_ variance: Double) -> Double { 1 / (variance + settings.eps).squareRoot() }

        if let running {
            var result = Coefficients(perSample: false, count: channels)
            for c in 0..<channels {
                result.append(mean: running.mean[c], invStd: invStd(running.variance[c]), gamma: gamma(c), beta: beta(c), roundMeanTo: round)
            }
            return result
        }
        if settings.kind == .batch {
            var result = Coefficients(perSample: false, count: channels)
            for c in 0..<channels {
                result.append(mean: moments[c].mean, invStd: invStd(moments[c].variance(settings.variance)), gamma: gamma(c), beta: beta(c), roundMeanTo: round)
            }
            return result
        }
        if settings.kind == .layer, let affine, !perChannelAffine {
            var result = Coefficients(perSample: true, count: plan.batch)
            for n in 0..<plan.batch {
                result.append(mean: moments[n].mean, invStd: invStd(moments[n].variance(settings.variance)), gamma: 1, beta: 0, roundMeanTo: round)
            }
            result.elementWeight = Self.memoryOrder(affine.weight, plan: plan)
            result.elementBias = Self.memoryOrder(affine.bias, plan: plan)
            return result
        }
        var result = Coefficients(perSample: true, count: plan.batch * channels)
        for n in 0..<plan.batch {
            for c in 0..<channels {
                let m = moments[plan.partition(sample: n, channel: c)]
                result.append(mean: m.mean, invStd: invStd(m.variance(settings.variance)), gamma: gamma(c), beta: beta(c), roundMeanTo: round)
            }
        }
        return result
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
