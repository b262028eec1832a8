/// A batch's statistics pass and its apply pass in one parallel run (see
/// `ParallelRunner.runPhases`): the constants are made from the merged moments by whichever
/// worker finishes the last statistics piece, and the apply pieces follow without a second wake.
enum TwoPassKernel {
    /// Returns false, with the output untouched, when `constants` makes none for the moments.
    static func normalize<In: StoredElement, Out: StoredElement, S: ComputeScalar>(
        _: In.Type, _: Out.Type, _: S.Type, input: UnsafeRawPointer, output: UnsafeMutableRawPointer,
        plan: BatchPlan, runner: ParallelRunner, constants: inout BatchConstants
    ) -> Bool {
        let applyPieces = ApplyKernel.pieces(plan: plan, runner: runner)
        if applyPieces == 1 && StatisticsKernel.pieces(plan: plan, runner: runner) == 1 {
            return normalizeInOnePiece(In.self, Out.self, S.self, input: input, output: output, plan: plan, constants: &constants)
        }
        return normalizeInPieces(In.self, Out.self, S.self, input: input, output: output, plan: plan, runner: runner, constants: &constants)
    }

    /// Both passes cut into pieces that the runner's workers claim, in one parallel run.
    static func normalizeInPieces<In: StoredElement, Out: StoredElement, S: ComputeScalar>(
        _: In.Type, _: Out.Type, _: S.Type, input: UnsafeRawPointer, output: UnsafeMutableRawPointer,
        plan: BatchPlan, runner: ParallelRunner, constants: inout BatchConstants
    ) -> Bool {
        let applyPieces = ApplyKernel.pieces(plan: plan, runner: runner)
        let statistics = StatisticsPass(In.self, input, plan: plan, runner: runner, finiteOnly: false)
        // Written once by `between`, read by the apply pieces after it (runPhases orders them).
        var apply: ApplyPass<In, Out, S>?
        return runner.runPhases(
            workers: runner.workers(forElements: plan.geometry.elementCount),
            first: statistics.pieces, { statistics.sweep($0) },
            between: {
                guard let coefficients = statistics.merged().withUnsafeBufferPointer({ constants.make($0) }) else { return false }
                // The statistics pass has seen every value, so the apply pass need not check them.
                apply = ApplyPass(In.self, Out.self, S.self, input: input, output: output, plan: plan,
                                  coefficients: coefficients, pieces: applyPieces, checkFinite: false)
                return true
            },
            second: applyPieces, { apply!.sweep($0) })
    }

    /// A batch below one worker's grain is one piece of each pass: the same sweeps (piece 0 of 1,
    /// nothing to merge) on this thread, with the moments and the apply table in temporary
    /// memory — no pass objects, no phase machinery and no constants array, which cost more than
    /// the arithmetic for small batches. The bits are the pieces path's: the same calls in the
    /// same order, the same constants rounded the same way.
    static func normalizeInOnePiece<In: StoredElement, Out: StoredElement, S: ComputeScalar>(
        _: In.Type, _: Out.Type, _: S.Type, input: UnsafeRawPointer, output: UnsafeMutableRawPointer,
        plan: BatchPlan, constants: inout BatchConstants
    ) -> Bool {
        let layout = constants.normalizer.coefficientLayout(plan: plan, fromRunning: false, affine: constants.affine)
        return withUnsafeTemporaryAllocation(of: Moments.self, capacity: plan.partitionCount) { local -> Bool in
            local.initialize(repeating: Moments())
            StatisticsKernel.sweep(In.self, input, plan: plan, piece: 0, of: 1, into: local, finiteOnly: false)
            let moments = UnsafeBufferPointer(local)
            if layout.elementAffine {
                guard let coefficients = constants.make(moments) else { return false }
                ApplyPass<In, Out, S>.withTable(coefficients) { table, elementAffine in
                    // The statistics pass has seen every value, so the apply pass need not check them.
                    _ = ApplyKernel.sweep(In.self, Out.self, input, output, plan: plan, table: table, elementAffine: elementAffine,
                                          piece: 0, of: 1, checkFinite: false)
                }
                return true
            }
            return withUnsafeTemporaryAllocation(of: S.self, capacity: 4 * layout.count) { memory -> Bool in
                var writer = ApplyTableWriter(memory, count: layout.count)
                guard constants.make(moments, into: &writer) else { return false }
                _ = ApplyKernel.sweep(In.self, Out.self, input, output, plan: plan, table: writer.table(perSample: layout.perSample),
                                      elementAffine: nil, piece: 0, of: 1, checkFinite: false)
                return true
            }
        }
    }
}
