import Locking
import Synchronization
import ZeroMQ

/// Finished batches on their way back to the pipeline's thread, in the order lanes finished
/// them — which per key is the order they arrived, because a key always uses the same lane.
final class CompletionQueue: Sendable {
    struct Completion: Sendable {
        let result: BatchProcessor.Result
        /// The stream key and header `seq`, for the log.
        let streamKey: String
        let seq: UInt64?
        /// Frames 0 and 1 as received, for a dead letter (empty without a dead-letter socket).
        let key: [UInt8]
        let header: [UInt8]
        let receivedAt: UInt64
    }

    private let items = ObservedMutex<[Completion]>([])
    private let wake: EventSignal

    init(wake: EventSignal) { self.wake = wake }

    func push(_ completion: Completion) {
        items.withLock { $0.append(completion) }
        wake.signal()
    }

    func takeAll() -> [Completion] {
        items.withLock { items in
            defer { items.removeAll(keepingCapacity: true) }
            return items
        }
    }
}
