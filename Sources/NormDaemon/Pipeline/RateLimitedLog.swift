import Foundation
import Locking
import Logging
import NormFormats
import Synchronization

/// Logs rejections without letting a storm of bad messages flood the journal: at most
/// `perInterval` lines per interval, then one line saying how many were left out.
final class RateLimitedLog: Sendable {
    private let logger: Logger
    private let perInterval: Int
    private let intervalSeconds: Double
    private struct Window {
        var start: UInt64?
        var logged = 0
        var suppressed = 0
    }
    private let window = ObservedMutex(Window())

    init(logger: Logger, perInterval: Int, intervalSeconds: Double) {
        self.logger = logger
        self.perInterval = perInterval
        self.intervalSeconds = intervalSeconds
    }

    /// A rejection line names the key and, when the header had one, its `seq`.
    func log(_ rejection: Rejection, key: String?, seq: UInt64?) {
        guard admit(what: "rejections") else { return }
        var metadata: Logger.Metadata = ["reason": "\(rejection.reason.rawValue)", "detail": "\(rejection.detail)"]
        if let key { metadata["key"] = "\(key)" }
        if let seq { metadata["seq"] = "\(seq)" }
        logger.warning("rejected message", metadata: metadata)
    }

    /// One warning line, within the same budget.
    func log(_ message: String) {
        guard admit(what: "such warnings") else { return }
        logger.warning("\(message)")
    }

    /// One warning line with metadata, within the same budget.
    func warning(_ message: String, metadata: Logger.Metadata, what: String) {
        guard admit(what: what) else { return }
        logger.warning("\(message)", metadata: metadata)
    }

    /// Whether a line may be logged now; says first how many were left out in the last interval.
    private func admit(what: String) -> Bool {
        let now = MonotonicClock.nanoseconds()
        let (emit, suppressedBefore): (Bool, Int) = window.withLock { w in
            var suppressedBefore = 0
            if w.start.map({ Double(now &- $0) / 1e9 >= intervalSeconds }) ?? true {
                suppressedBefore = w.suppressed
                w = Window(start: now, logged: 0, suppressed: 0)
            }
            if w.logged < perInterval {
                w.logged += 1
                return (true, suppressedBefore)
            }
            w.suppressed += 1
            return (false, suppressedBefore)
        }
        if suppressedBefore > 0 { logger.warning("\(suppressedBefore) more \(what) not logged in the last \(Int(intervalSeconds)) s") }
        return emit
    }
}
