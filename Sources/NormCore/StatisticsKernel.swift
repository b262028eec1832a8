/// The statistics pass: one read of the batch, float64 accumulation of values shifted by a
/// nearby sample (so a large mean costs no precision), Chan's merge across pieces and workers.
enum StatisticsKernel {
    static func moments<E: StoredElement>(
        _: E.Type, _ base: UnsafeRawPointer, plan: BatchPlan, runner: ParallelRunner, finiteOnly: Bool
    ) -> [Moments] {
        let partitions = plan.partitionCount
        let workers = runner.workers(forElements: plan.geometry.elementCount)
        let local = UnsafeMutableBufferPointer<Moments>.allocate(capacity: workers * partitions)
        local.initialize(repeating: Moments())
        defer { local.deallocate() }
        let shared = UncheckedSendable((base, local))
        runner.run(workers) { worker in
            let (base, local) = shared.value
            let slice = UnsafeMutableBufferPointer(rebasing: local[(worker * partitions)..<((worker + 1) * partitions)])
            if plan.sweepsRows {
                let rows = ParallelRunner.share(worker, of: workers, total: plan.batch * plan.spatial)
                sweepRows(E.self, base, plan: plan, rows: rows, into: slice, finiteOnly: finiteOnly)
            } else {
                let elements = ParallelRunner.share(worker, of: workers, total: plan.geometry.elementCount)
                sweepRuns(E.self, base, plan: plan, elements: elements, into: slice, finiteOnly: finiteOnly)
            }
        }
        var result = Array(local[0..<partitions])
        for worker in 1..<max(workers, 1) {
            for p in 0..<partitions { result[p].merge(local[worker * partitions + p]) }
        }
        return result
    }

    private static func sweepRuns<E: StoredElement>(
        _: E.Type, _ base: UnsafeRawPointer, plan: BatchPlan, elements: Range<Int>,
        into local: UnsafeMutableBufferPointer<Moments>, finiteOnly: Bool
    ) {
        let runLength = plan.runLength
        var position = elements.lowerBound
        while position < elements.upperBound {
            let run = position / runLength
            let end = min((run + 1) * runLength, elements.upperBound)
            let piece = finiteOnly
                ? finiteMoments(E.self, base, position..<end)
                : contiguousMoments(E.self, base, position..<end)
            local[plan.partition(ofRun: run)].merge(piece)
            position = end
        }
    }

    @inline(__always)
    static func contiguousMoments<E: StoredElement>(_: E.Type, _ base: UnsafeRawPointer, _ range: Range<Int>) -> Moments {
        let shift = E.loadDouble(base, range.lowerBound)
        let shift8 = SIMD8<Double>(repeating: shift)
        var sumA = SIMD8<Double>(), sumB = SIMD8<Double>()
        var squaresA = SIMD8<Double>(), squaresB = SIMD8<Double>()
        var i = range.lowerBound
        // Two accumulator pairs hide the add latency.
        while i &+ 16 <= range.upperBound {
            let a = E.loadDouble8(base, i) - shift8
            let b = E.loadDouble8(base, i &+ 8) - shift8
            sumA += a
            sumB += b
            squaresA.addProduct(a, a)
            squaresB.addProduct(b, b)
            i &+= 16
        }
        while i &+ 8 <= range.upperBound {
            let a = E.loadDouble8(base, i) - shift8
            sumA += a
            squaresA += a * a
            i &+= 8
        }
        var sum = (sumA + sumB).sum(), squares = (squaresA + squaresB).sum()
        while i < range.upperBound {
            let d = E.loadDouble(base, i) - shift
            sum += d
            squares += d * d
            i &+= 1
        }
        return Moments(count: Double(range.count), shift: shift, sum: sum, sumOfSquares: squares)
    }

    /// The slow path for `nonfinite = "pass"`: statistics of the finite values only.
    private static func finiteMoments<E: StoredElement>(_: E.Type, _ base: UnsafeRawPointer, _ range: Range<Int>) -> Moments {
        var result = Moments()
        for i in range {
            let x = E.loadDouble(base, i)
            if x.isFinite { result.merge(Moments(count: 1, shift: x, sum: 0, sumOfSquares: 0)) }
        }
        return result
    }

    private static func sweepRows<E: StoredElement>(
        _: E.Type, _ base: UnsafeRawPointer, plan: BatchPlan, rows: Range<Int>,
        into local: UnsafeMutableBufferPointer<Moments>, finiteOnly: Bool
    ) {
        guard !rows.isEmpty else { return }
        let channels = plan.channels
        let vectorEnd = channels & ~7
        let accumulators = UnsafeMutableBufferPointer<Double>.allocate(capacity: 4 * channels)
        defer { accumulators.deallocate() }
        let shift = accumulators.baseAddress!
        let sum = shift + channels, squares = sum + channels, counts = squares + channels

        var accumulatedRows = 0
        var sample = rows.lowerBound / plan.spatial

        func flush() {
            for c in 0..<channels {
                let count = finiteOnly ? counts[c] : Double(accumulatedRows)
                guard count > 0 else { continue }
                let m = Moments(count: count, shift: shift[c], sum: sum[c], sumOfSquares: squares[c])
                local[plan.partition(sample: sample, channel: c)].merge(m)
            }
            accumulatedRows = 0
        }

        for row in rows {
            let rowSample = row / plan.spatial
            if rowSample != sample {
                if plan.partitionsPerSample { flush() }
                sample = rowSample
            }
            let start = row &* channels
            if accumulatedRows == 0 {
                for c in 0..<channels {
                    let x = E.loadDouble(base, start &+ c)
                    shift[c] = x.isFinite || !finiteOnly ? x : 0
                    sum[c] = 0
                    squares[c] = 0
                    counts[c] = 0
                }
            }
            accumulatedRows += 1
            if finiteOnly {
                for c in 0..<channels {
                    let x = E.loadDouble(base, start &+ c)
                    guard x.isFinite else { continue }
                    let d = x - shift[c]
                    sum[c] += d
                    squares[c] += d * d
                    counts[c] += 1
                }
                continue
            }
            var c = 0
            while c < vectorEnd {
                let d = E.loadDouble8(base, start &+ c) - UnsafeRawPointer(shift + c).loadUnaligned(as: SIMD8<Double>.self)
                let s = UnsafeRawPointer(sum + c).loadUnaligned(as: SIMD8<Double>.self) + d
                let q = UnsafeRawPointer(squares + c).loadUnaligned(as: SIMD8<Double>.self) + d * d
                UnsafeMutableRawPointer(sum + c).storeBytes(of: s, as: SIMD8<Double>.self)
                UnsafeMutableRawPointer(squares + c).storeBytes(of: q, as: SIMD8<Double>.self)
                c &+= 8
            }
            while c < channels {
                let d = E.loadDouble(base, start &+ c) - shift[c]
                sum[c] += d
                squares[c] += d * d
                c &+= 1
            }
        }
        flush()
    }
}
