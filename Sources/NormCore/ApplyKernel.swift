/// The apply pass: one fused read–normalize–write sweep in memory order.
///
/// With `checkFinite` it returns false when an output value is not finite; that is how eval
/// mode, which computes no statistics, notices NaN and ±inf. Train mode has already seen them in
/// the statistics pass and skips the check, which would otherwise chain every vector of the loop.
enum ApplyKernel {
    static func apply<In: StoredElement, Out: StoredElement, S: ComputeScalar>(
        _: In.Type, _: Out.Type, _: S.Type,
        input: UnsafeRawPointer, output: UnsafeMutableRawPointer,
        plan: BatchPlan, coefficients: Coefficients, runner: ParallelRunner, checkFinite: Bool
    ) -> Bool {
        let pass = ApplyPass(In.self, Out.self, S.self, input: input, output: output, plan: plan, coefficients: coefficients,
                             pieces: pieces(plan: plan, runner: runner), checkFinite: checkFinite)
        runner.forEachPiece(pass.pieces, workers: runner.workers(forElements: plan.geometry.elementCount)) { pass.sweep($0) }
        return pass.allFinite
    }

    static func pieces(plan: BatchPlan, runner: ParallelRunner) -> Int {
        runner.pieces(forElements: plan.geometry.elementCount)
    }

    /// Piece `piece` of `pieces`; returns false when an output value was not finite.
    static func sweep<In: StoredElement, Out: StoredElement, S: ComputeScalar>(
        _: In.Type, _: Out.Type, _ input: UnsafeRawPointer, _ output: UnsafeMutableRawPointer, plan: BatchPlan,
        table: CoefficientTable<S>, elementAffine: (weight: [S], bias: [S])?, piece: Int, of pieces: Int, checkFinite: Bool
    ) -> Bool {
        let total = plan.geometry.elementCount
        if let (weight, bias) = elementAffine {
            let elements = ParallelRunner.share(piece, of: pieces, total: total)
            return sweepElementwise(In.self, Out.self, input, output, plan: plan, table: table, weight: weight, bias: bias, elements: elements)
        } else if plan.sweepsRows {
            let rows = ParallelRunner.share(piece, of: pieces, total: plan.batch * plan.spatial)
            return sweepRows(In.self, Out.self, input, output, plan: plan, table: table, rows: rows, checkFinite: checkFinite)
        } else {
            let elements = ParallelRunner.share(piece, of: pieces, total: total)
            return sweepRuns(In.self, Out.self, input, output, plan: plan, table: table, elements: elements, checkFinite: checkFinite)
        }
    }

    struct CoefficientTable<S: ComputeScalar> {
        let hi: UnsafeBufferPointer<S>, lo: UnsafeBufferPointer<S>
        let scale: UnsafeBufferPointer<S>, beta: UnsafeBufferPointer<S>
        let perSample: Bool
    }

    @inline(__always)
    static func segment<In: StoredElement, Out: StoredElement, S: ComputeScalar>(
        _: In.Type, _: Out.Type, _ input: UnsafeRawPointer, _ output: UnsafeMutableRawPointer,
        _ range: Range<Int>, hi: S, lo: S, scale: S, beta: S, checkFinite: Bool, sentinel: inout SIMD8<S>
    ) {
        let hi8 = SIMD8(repeating: hi), lo8 = SIMD8(repeating: lo)
        let scale8 = SIMD8(repeating: scale), beta8 = SIMD8(repeating: beta)
        var i = range.lowerBound
        var second = SIMD8<S>()
        while i &+ 16 <= range.upperBound {
            let a = beta8.addingProduct((S.load8(In.self, input, i) - hi8) - lo8, scale8)
            let b = beta8.addingProduct((S.load8(In.self, input, i &+ 8) - hi8) - lo8, scale8)
            S.store8(Out.self, a, output, i)
            S.store8(Out.self, b, output, i &+ 8)
            if checkFinite {
                sentinel += a * 0
                second += b * 0
            }
            i &+= 16
        }
        sentinel += second
        while i &+ 8 <= range.upperBound {
            let y = beta8.addingProduct((S.load8(In.self, input, i) - hi8) - lo8, scale8)
            S.store8(Out.self, y, output, i)
            if checkFinite { sentinel += y * 0 }
            i &+= 8
        }
        while i < range.upperBound {
            let y = beta.addingProduct((S(In.loadDouble(input, i)) - hi) - lo, scale)
            Out.storeDouble(Double(y), output, i)
            if checkFinite { sentinel[0] += y * 0 }
            i &+= 1
        }
    }

    private static func sweepRuns<In: StoredElement, Out: StoredElement, S: ComputeScalar>(
        _: In.Type, _: Out.Type, _ input: UnsafeRawPointer, _ output: UnsafeMutableRawPointer,
        plan: BatchPlan, table: CoefficientTable<S>, elements: Range<Int>, checkFinite: Bool
    ) -> Bool {
        let spatial = plan.spatial, channels = plan.channels
        var sentinel = SIMD8<S>()
        var position = elements.lowerBound
        while position < elements.upperBound {
            let run = position / spatial
            let end = min((run + 1) * spatial, elements.upperBound)
            let q = table.perSample ? run : run % channels
            segment(In.self, Out.self, input, output, position..<end,
                    hi: table.hi[q], lo: table.lo[q], scale: table.scale[q], beta: table.beta[q], checkFinite: checkFinite, sentinel: &sentinel)
            position = end
        }
        return sentinel.sum().isFinite
    }

    private static func sweepRows<In: StoredElement, Out: StoredElement, S: ComputeScalar>(
        _: In.Type, _: Out.Type, _ input: UnsafeRawPointer, _ output: UnsafeMutableRawPointer,
        plan: BatchPlan, table: CoefficientTable<S>, rows: Range<Int>, checkFinite: Bool
    ) -> Bool {
        let channels = plan.channels, vectorEnd = channels & ~7
        var sentinel = SIMD8<S>()
        let hi = UnsafeRawPointer(table.hi.baseAddress!), lo = UnsafeRawPointer(table.lo.baseAddress!)
        let scale = UnsafeRawPointer(table.scale.baseAddress!), beta = UnsafeRawPointer(table.beta.baseAddress!)
        let stride = MemoryLayout<S>.stride
        for row in rows {
            let base = table.perSample ? (row / plan.spatial) &* channels : 0
            let start = row &* channels
            var c = 0
            while c < vectorEnd {
                let offset = (base &+ c) &* stride
                let x = S.load8(In.self, input, start &+ c)
                let d = (x - hi.loadUnaligned(fromByteOffset: offset, as: SIMD8<S>.self)) - lo.loadUnaligned(fromByteOffset: offset, as: SIMD8<S>.self)
                let y = beta.loadUnaligned(fromByteOffset: offset, as: SIMD8<S>.self)
                    .addingProduct(d, scale.loadUnaligned(fromByteOffset: offset, as: SIMD8<S>.self))
                S.store8(Out.self, y, output, start &+ c)
                if checkFinite { sentinel += y * 0 }
                c &+= 8
            }
            while c < channels {
                let q = base &+ c
                let y = table.beta[q].addingProduct((S(In.loadDouble(input, start &+ c)) - table.hi[q]) - table.lo[q], table.scale[q])
                Out.storeDouble(Double(y), output, start &+ c)
                if checkFinite { sentinel[0] += y * 0 }
                c &+= 1
            }
        }
        return sentinel.sum().isFinite
    }

    /// Layer with a full `[C, *S]` affine: γ and β per element, given in memory order.
    private static func sweepElementwise<In: StoredElement, Out: StoredElement, S: ComputeScalar>(
        _: In.Type, _: Out.Type, _ input: UnsafeRawPointer, _ output: UnsafeMutableRawPointer,
        plan: BatchPlan, table: CoefficientTable<S>, weight: [S], bias: [S], elements: Range<Int>
    ) -> Bool {
        let sampleSize = plan.channels * plan.spatial
        var sentinel = SIMD8<S>()
        var position = elements.lowerBound
        weight.withUnsafeBufferPointer { weight in
            bias.withUnsafeBufferPointer { bias in
                while position < elements.upperBound {
                    let sample = position / sampleSize
                    let end = min((sample + 1) * sampleSize, elements.upperBound)
                    let hi = table.hi[sample], lo = table.lo[sample], invStd = table.scale[sample]
                    for i in position..<end {
                        let o = i - sample * sampleSize
                        let y = ((S(In.loadDouble(input, i)) - hi) - lo) * invStd * weight[o] + bias[o]
                        Out.storeDouble(Double(y), output, i)
                        sentinel[0] += y * 0
                    }
                    position = end
                }
            }
        }
        return sentinel.sum().isFinite
    }
}
