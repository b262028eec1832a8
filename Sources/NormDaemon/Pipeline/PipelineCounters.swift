import Foundation
import Locking
import NormFormats
import Synchronization

/// A pipeline's counters, all behind one lock so every snapshot satisfies
/// received = published + rejected + dropped + in_flight.
public final class PipelineCounters: Sendable {
    public struct Snapshot: Sendable, Equatable {
        public var received = 0
        public var published = 0
        public var rejected: [RejectReason: Int] = [:]
        public var dropped: [String: Int] = [:]
        public var inFlight = 0
        public var bytesIn = 0
        public var bytesOut = 0
        public var deadLettersSent = 0
        public var deadLettersDropped = 0
        /// Drift alarms begun (`drift = "alarm"`).
        public var driftAlarms = 0
        public var latencyBuckets = [Int](repeating: 0, count: PipelineCounters.latencyBoundsMs.count + 1)
        public var latencySumMs = 0.0
        public var recentLatenciesMs: [Double] = []
        public var publishedPerSecond = 0.0

        public var rejectedTotal: Int { rejected.values.reduce(0, +) }
        public var droppedTotal: Int { dropped.values.reduce(0, +) }

        /// A latency percentile over the most recent batches, in milliseconds.
        public func latencyPercentile(_ p: Double) -> Double? {
            guard !recentLatenciesMs.isEmpty else { return nil }
            let sorted = recentLatenciesMs.sorted()
            let rank = Int((p * Double(sorted.count)).rounded(.up)) - 1
            return sorted[min(sorted.count - 1, max(0, rank))]
        }
    }

    /// Histogram bucket upper bounds for the latency metric.
    public static let latencyBoundsMs: [Double] = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 10_000]
    static let recentCapacity = 2048

    private struct State {
        var snapshot = Snapshot()
        var recentNext = 0
        var rateBuckets = [(second: Int, count: Int)](repeating: (0, 0), count: 11)
    }
    private let state = ObservedMutex(State())

    public init() {}

    /// A message arrived: it is in flight until it is rejected, dropped or published, so that at
    /// every instant received = published + rejected + dropped + in flight.
    public func received(bytes: Int) {
        state.withLock {
            $0.snapshot.received += 1
            $0.snapshot.bytesIn += bytes
            $0.snapshot.inFlight += 1
        }
    }

    public func rejected(_ reason: RejectReason) {
        state.withLock {
            $0.snapshot.rejected[reason, default: 0] += 1
            $0.snapshot.inFlight -= 1
        }
    }

    public func dropped(_ reason: String) {
        state.withLock {
            $0.snapshot.dropped[reason, default: 0] += 1
            $0.snapshot.inFlight -= 1
        }
    }

    public func driftAlarm() { state.withLock { $0.snapshot.driftAlarms += 1 } }

    public func deadLetter(sent: Bool) {
        state.withLock { s in
            if sent {
                s.snapshot.deadLettersSent += 1
            } else {
                s.snapshot.deadLettersDropped += 1
            }
        }
    }

    public func published(bytes: Int, latencyMs: Double, now: UInt64 = MonotonicClock.nanoseconds()) {
        state.withLock { s in
            s.snapshot.published += 1
            s.snapshot.inFlight -= 1
            s.snapshot.bytesOut += bytes
            let bucket = PipelineCounters.latencyBoundsMs.firstIndex { latencyMs <= $0 } ?? PipelineCounters.latencyBoundsMs.count
            s.snapshot.latencyBuckets[bucket] += 1
            s.snapshot.latencySumMs += latencyMs
            if s.snapshot.recentLatenciesMs.count < PipelineCounters.recentCapacity {
                s.snapshot.recentLatenciesMs.append(latencyMs)
            } else {
                s.snapshot.recentLatenciesMs[s.recentNext] = latencyMs
            }
            s.recentNext = (s.recentNext + 1) % PipelineCounters.recentCapacity
            let second = Int(now / 1_000_000_000)
            let slot = second % s.rateBuckets.count
            if s.rateBuckets[slot].second != second { s.rateBuckets[slot] = (second, 0) }
            s.rateBuckets[slot].count += 1
        }
    }

    /// A consistent copy; batches/s is averaged over the last ten whole seconds.
    public func snapshot(now: UInt64 = MonotonicClock.nanoseconds()) -> Snapshot {
        state.withLock { s in
            var copy = s.snapshot
            let current = Int(now / 1_000_000_000)
            let window = (current - 10)..<current
            let count = s.rateBuckets.filter { window.contains($0.second) }.reduce(0) { $0 + $1.count }
            copy.publishedPerSecond = Double(count) / 10
            return copy
        }
    }
}
