import Dispatch
import Foundation
import Locking
import Synchronization
import Testing

@testable import NormCore

@Suite("Two phases in one parallel run")
struct ParallelRunnerTests {
    /// Counts how often each piece of each phase ran, and checks that no second-phase piece ran
    /// before `between` or any first-phase piece after it.
    final class PhaseLog: Sendable {
        let firstPieces: Int, secondPieces: Int
        // ObservedMutex, not Mutex: ThreadSanitizer cannot see a contended Mutex's hand-over.
        let first: ObservedMutex<[Int]>, second: ObservedMutex<[Int]>
        let betweenCalls = Atomic<Int>(0)
        let outOfOrder = Atomic<Int>(0)

        init(first: Int, second: Int) {
            (firstPieces, secondPieces) = (first, second)
            self.first = ObservedMutex(Array(repeating: 0, count: first))
            self.second = ObservedMutex(Array(repeating: 0, count: second))
        }

        func run(_ runner: ParallelRunner, workers: Int, proceed: Bool, betweenMicroseconds: UInt32 = 0) -> Bool {
            runner.runPhases(
                workers: workers, first: firstPieces,
                { piece in
                    if betweenCalls.load(ordering: .acquiring) > 0 { outOfOrder.add(1, ordering: .relaxed) }
                    first.withLock { $0[piece] += 1 }
                },
                between: {
                    // Every first piece has finished, and their effects are visible here.
                    if first.withLock({ $0.contains { $0 != 1 } }) { outOfOrder.add(1, ordering: .relaxed) }
                    if betweenMicroseconds > 0 { usleep(betweenMicroseconds) }
                    betweenCalls.add(1, ordering: .releasing)
                    return proceed
                },
                second: secondPieces,
                { piece in
                    if betweenCalls.load(ordering: .acquiring) != 1 { outOfOrder.add(1, ordering: .relaxed) }
                    second.withLock { $0[piece] += 1 }
                })
        }

        var firstCounts: [Int] { first.withLock { $0 } }
        var secondCounts: [Int] { second.withLock { $0 } }
    }

    @Test(
        "every piece runs once, in order of the phases, with more or fewer workers than pieces",
        arguments: [(1, 1, 1), (2, 8, 8), (2, 3, 9), (7, 2, 5), (4, 13, 1)])
    func piecesRunOnce(workers: Int, firstPieces: Int, secondPieces: Int) {
        let log = PhaseLog(first: firstPieces, second: secondPieces)
        #expect(log.run(ParallelRunner(threads: workers), workers: workers, proceed: true))
        #expect(log.firstCounts == Array(repeating: 1, count: firstPieces))
        #expect(log.secondCounts == Array(repeating: 1, count: secondPieces))
        #expect(log.betweenCalls.load(ordering: .relaxed) == 1)
        #expect(log.outOfOrder.load(ordering: .relaxed) == 0)
    }

    // The apply pass of a batch starts where its statistics pass ended, on what is still cached.
    @Test("the second phase runs its pieces from the last to the first")
    func secondPhaseBackwards() {
        let order = ObservedMutex<[Int]>([])
        #expect(
            ParallelRunner(threads: 1).runPhases(
                workers: 1, first: 3, { _ in }, between: { true }, second: 5, { piece in order.withLock { $0.append(piece) } }))
        #expect(order.withLock { $0 } == [4, 3, 2, 1, 0])
    }

    @Test("between returning false skips the second phase")
    func betweenStops() {
        let log = PhaseLog(first: 6, second: 6)
        #expect(!log.run(ParallelRunner(threads: 2), workers: 2, proceed: false))
        #expect(log.firstCounts == Array(repeating: 1, count: 6))
        #expect(log.secondCounts == Array(repeating: 0, count: 6))
    }

    // A slow `between` makes the other workers give up spinning and sleep until it is done.
    @Test("workers that sleep through a slow between wake and run the second phase", .timeLimit(.minutes(1)))
    func sleepersWake() {
        for _ in 0..<20 {
            let log = PhaseLog(first: 2, second: 8)
            #expect(log.run(ParallelRunner(threads: 2), workers: 2, proceed: true, betweenMicroseconds: 2_000))
            #expect(log.secondCounts == Array(repeating: 1, count: 8))
            #expect(log.outOfOrder.load(ordering: .relaxed) == 0)
        }
    }

    // Nested in a concurrentPerform that already holds every thread, libdispatch runs a call's
    // iterations late or one after another on the same thread: a worker that waited for another
    // iteration to start would hang here.
    @Test("calls nested in a busy concurrentPerform finish", .timeLimit(.minutes(1)))
    func nestedCallsFinish() {
        let failures = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: 16) { _ in
            for _ in 0..<50 {
                let log = PhaseLog(first: 5, second: 5)
                let proceeded = log.run(ParallelRunner(threads: 4), workers: 4, proceed: true)
                if !proceeded || log.secondCounts != Array(repeating: 1, count: 5) || log.outOfOrder.load(ordering: .relaxed) > 0 {
                    failures.add(1, ordering: .relaxed)
                }
            }
        }
        #expect(failures.load(ordering: .relaxed) == 0)
    }
}
