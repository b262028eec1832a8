import Dispatch

/// Splits a batch's work across `threads` workers with `DispatchQueue.concurrentPerform`.
struct ParallelRunner: Sendable {
    let threads: Int
    /// Below this many elements per worker, waking another thread costs more than it saves.
    /// Tests lower it to force splits inside small batches.
    var minimumElementsPerWorker = 32_768

    func workers(forElements elements: Int) -> Int {
        max(1, min(threads, elements / max(1, minimumElementsPerWorker)))
    }

    /// How many pieces a batch is cut into: one per worker would make every call wait for a
    /// parked thread to wake (tens of microseconds on a VM) before its half could start; with a
    /// few pieces per worker the calling thread starts at once and a late worker takes fewer.
    func pieces(forElements elements: Int) -> Int {
        let workers = workers(forElements: elements)
        return workers <= 1 ? 1 : workers * Self.piecesPerWorker
    }

    static let piecesPerWorker = 4

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
