/// One statistics pass over a batch, cut into pieces that any thread may run in any order;
/// each piece accumulates into its own slice, and `merged` combines the slices with Chan's
/// formula once every piece has run. Pieces write disjoint slices of `local`.
final class StatisticsPass<E: StoredElement> {
    let pieces: Int
    private let base: UnsafeRawPointer
    private let plan: BatchPlan
    private let finiteOnly: Bool
    private let local: UnsafeMutableBufferPointer<Moments>

    init(_: E.Type, _ base: UnsafeRawPointer, plan: BatchPlan, runner: ParallelRunner, finiteOnly: Bool) {
        self.base = base
        self.plan = plan
        self.finiteOnly = finiteOnly
        pieces = StatisticsKernel.pieces(plan: plan, runner: runner)
        local = .allocate(capacity: pieces * plan.partitionCount)
        local.initialize(repeating: Moments())
    }

    deinit { local.deallocate() }

    func sweep(_ piece: Int) {
        let partitions = plan.partitionCount
        let slice = UnsafeMutableBufferPointer(rebasing: local[(piece * partitions)..<((piece + 1) * partitions)])
        StatisticsKernel.sweep(E.self, base, plan: plan, piece: piece, of: pieces, into: slice, finiteOnly: finiteOnly)
    }

    func merged() -> [Moments] {
        let partitions = plan.partitionCount
        var result = Array(local[0..<partitions])
        for piece in 1..<max(pieces, 1) {
            for p in 0..<partitions { result[p].merge(local[piece * partitions + p]) }
        }
        return result
    }
}
