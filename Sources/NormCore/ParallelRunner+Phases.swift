import Dispatch
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension ParallelRunner {
    /// Runs `first` on pieces `0..<firstPieces`, then `between` once, then — if `between`
    /// returned true — `second` on pieces `0..<secondPieces`, all in one `concurrentPerform`.
    ///
    /// Two passes in two `concurrentPerform`s wake the parked workers twice; the second wake cost
    /// ~35 µs here, an eighth of a pass over an L3-resident batch. Workers claim pieces from
    /// counters instead of owning them, so a worker that libdispatch starts late, or runs after
    /// another on the same thread, only leaves its pieces to the others. A worker waits only for
    /// pieces already claimed — being run by a thread that is not waiting — and for `between`,
    /// which the thread that finished the last first piece runs at once: it cannot deadlock.
    ///
    /// - Returns: what `between` returned.
    func runPhases(
        workers: Int, first firstPieces: Int, _ first: (Int) -> Void,
        between: () -> Bool, second secondPieces: Int, _ second: (Int) -> Void
    ) -> Bool {
        precondition(firstPieces > 0, "the first phase needs a piece to run `between` after")
        if workers <= 1 {
            for piece in 0..<firstPieces { first(piece) }
            guard between() else { return false }
            for piece in 0..<secondPieces { second(piece) }
            return true
        }
        let counters = PhaseCounters()
        run(workers) { _ in
            while case let piece = counters.firstClaimed.wrappingAdd(1, ordering: .relaxed).oldValue, piece < firstPieces {
                first(piece)
                // Releases this piece's writes; the last one acquires everybody's before `between`.
                if counters.firstDone.wrappingAdd(1, ordering: .acquiringAndReleasing).newValue == firstPieces {
                    counters.phase.store(between() ? PhaseCounters.second : PhaseCounters.stopped, ordering: .releasing)
                }
            }
            guard counters.waitForSecondPhase() else { return }
            while case let piece = counters.secondClaimed.wrappingAdd(1, ordering: .relaxed).oldValue, piece < secondPieces {
                second(piece)
            }
        }
        return counters.phase.load(ordering: .acquiring) == PhaseCounters.second
    }
}

/// The shared progress of one `runPhases` call.
private final class PhaseCounters: Sendable {
    static let first = 0, second = 1, stopped = 2
    let firstClaimed = Atomic<Int>(0)
    let firstDone = Atomic<Int>(0)
    let secondClaimed = Atomic<Int>(0)
    let phase = Atomic<Int>(PhaseCounters.first)

    /// Spins until `between` has run (a piece's worth of time at most), yielding the core after a
    /// while in case the thread it waits for shares it. Returns whether the second phase runs.
    func waitForSecondPhase() -> Bool {
        var spins = 0
        while true {
            switch phase.load(ordering: .acquiring) {
            case Self.second: return true
            case Self.stopped: return false
            default:
                spins += 1
                if spins > 100 { sched_yield() }
            }
        }
    }
}
