import Dispatch
import Synchronization

extension ClusterWorker {
    /// What came of a reset of one key.
    public enum ResetOutcome: Sendable, Equatable {
        case written
        /// The bucket has no such key.
        case absent
        /// The bucket could not be read or written: why.
        case failed(String)
    }

    /// Keys whose statistics go back to their seed, and who waits for it.
    final class ResetRequest: Sendable {
        let keys: [String]
        let done = DispatchSemaphore(value: 0)
        let outcomes = Mutex<[String: ResetOutcome]>([:])
        init(keys: [String]) { self.keys = keys }
    }

    /// Writes `keys`' statistics back to their seed in the bucket (the state of record), on the
    /// worker's thread between two messages, and returns what came of each — or nil when the
    /// worker did not get to it within `timeout` seconds (it waits on a full output, or has
    /// stopped); it still does them when it turns again.
    public func reset(_ keys: [String], timeout: Double = 5) -> [String: ResetOutcome]? {
        let request = ResetRequest(keys: keys)
        resets.withLock { $0.append(request) }
        guard request.done.wait(timeout: .now() + timeout) == .success else { return nil }
        return request.outcomes.withLock { $0 }
    }

    func doResets() {
        let pending = resets.withLock { pending in
            defer { pending.removeAll() }
            return pending
        }
        for request in pending {
            var outcomes: [String: ResetOutcome] = [:]
            for key in request.keys { outcomes[key] = processor.reset(key) }
            request.outcomes.withLock { [outcomes] in $0 = outcomes }
            request.done.signal()
        }
    }
}
