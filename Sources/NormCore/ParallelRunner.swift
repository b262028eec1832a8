import Dispatch
import Synchronization

/// Splits a batch's work across `threads` workers with `DispatchQueue.concurrentPerform`.
struct ParallelRunner: Sendable {
    let threads: Int
    /// Below this many elements per worker, waking another thread costs more than it saves.
    /// Tests lower it to force splits inside small batches.
    var minimumElementsPerWorker = 32_768

    func workers(forElements elements: Int) -> Int {
        max(1, min(threads, elements / max(1, minimumElementsPerWorker)))
    }

    /// How many pieces a batch of `elements` is cut into. The count depends on the batch alone,
    /// never on `threads`: pieces are reduced and merged in piece order, so every thread count
    /// gives the same bits (instances on machines with different core counts must agree). A batch
    /// too small to share is one piece; a larger one is cut into pieces of at least a worker's
    /// minimum (128 KiB of float32 by default), at most `maximumPieces` of them, which any free
    /// worker claims.
    func pieces(forElements elements: Int) -> Int {
        max(1, min(Self.maximumPieces, elements / max(1, minimumElementsPerWorker)))
    }

    /// Past this, more pieces only add merges and break the memory streams: 64 pieces keep 16
    /// workers busy with a few pieces each.
    static let maximumPieces = 64

    /// Runs `body` once for each of `pieces` pieces on at most `workers` threads (never more than
    /// `threads`); workers claim pieces from a counter, so which thread runs a piece varies but
    /// the pieces themselves do not.
    func forEachPiece(_ pieces: Int, workers: Int, _ body: (Int) -> Void) {
        let workers = min(workers, threads, pieces)
        if workers <= 1 {
            for piece in 0..<pieces { body(piece) }
            return
        }
        let claimed = PieceCounter()
        run(workers) { _ in
            while case let piece = claimed.next.wrappingAdd(1, ordering: .relaxed).oldValue, piece < pieces { body(piece) }
        }
    }

    func run(_ workers: Int, _ body: (Int) -> Void) {
        if workers <= 1 {
            body(0)
            return
        }
        // concurrentPerform wants a @Sendable closure; `body` only touches per-worker slices of
        // buffers that outlive this call, which concurrentPerform does not return before.
        withoutActuallyEscaping(body) { body in
            let box = UncheckedSendable(body)
            DispatchQueue.concurrentPerform(iterations: workers) { box.value($0) }
        }
    }

    /// The half-open range worker `index` of `workers` takes out of `0..<total`.
    static func share(_ index: Int, of workers: Int, total: Int) -> Range<Int> {
        (total * index / workers)..<(total * (index + 1) / workers)
    }
}

/// Carries a value into a `@Sendable` closure. Only for raw pointers and closures whose
/// concurrent use is partitioned by the caller (each worker touches its own slice).
struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}

/// The next unclaimed piece of one `forEachPiece` call.
private final class PieceCounter: Sendable {
    let next = Atomic<Int>(0)
}
