/// A batch's statistics pass and its apply pass in one parallel run (see
/// `ParallelRunner.runPhases`): the constants are made from the merged moments by whichever
/// worker finishes the last statistics piece, and the apply pieces follow without a second wake.
enum TwoPassKernel {
    /// Returns false, with the output untouched, when `coefficients` returns nil for the moments.
    static func normalize<In: StoredElement, Out: StoredElement, S: ComputeScalar>(
        _: In.Type, _: Out.Type, _: S.Type, input: UnsafeRawPointer, output: UnsafeMutableRawPointer,
        plan: BatchPlan, runner: ParallelRunner, coefficients: ([Moments]) -> Coefficients?
    ) -> Bool {
        let statistics = StatisticsPass(In.self, input, plan: plan, runner: runner, finiteOnly: false)
        let applyPieces = ApplyKernel.pieces(plan: plan, runner: runner)
        // Written once by `between`, read by the apply pieces after it (runPhases orders them).
        var apply: ApplyPass<In, Out, S>?
        return runner.runPhases(
            workers: runner.workers(forElements: plan.geometry.elementCount),
            first: statistics.pieces, { statistics.sweep($0) },
            between: {
                guard let constants = coefficients(statistics.merged()) else { return false }
                // The statistics pass has seen every value, so the apply pass need not check them.
                apply = ApplyPass(In.self, Out.self, S.self, input: input, output: output, plan: plan,
                                  coefficients: constants, pieces: applyPieces, checkFinite: false)
                return true
            },
            second: applyPieces, { apply!.sweep($0) })
    }
}
