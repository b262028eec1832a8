import Dispatch
import Synchronization

extension ClusterWorker {
    /// Keys whose statistics go back to their seed, and who waits for it.
    final class ResetRequest: Sendable {
        let keys: [String]
        let done = DispatchSemaphore(value: 0)
        let written = Mutex<[String]>([])
        init(keys: [String]) { self.keys = keys }
    }

    /// Writes `keys`' statistics back to their seed in the bucket (the state of record), on the
    /// worker's thread between two messages, and returns those written — or nil when the worker
    /// did not get to it within `timeout` seconds (it waits on a full output, or has stopped); it
    /// still does them when it turns again.
    public func reset(_ keys: [String], timeout: Double = 5) -> [String]? {
        let request = ResetRequest(keys: keys)
        resets.withLock { $0.append(request) }
        guard request.done.wait(timeout: .now() + timeout) == .success else { return nil }
        return request.written.withLock { $0 }
    }

    func doResets() {
        let pending = resets.withLock { pending in
            defer { pending.removeAll() }
            return pending
        }
        for request in pending {
            let written = request.keys.filter { processor.reset($0) }
            request.written.withLock { $0 = written }
            request.done.signal()
        }
    }
}
