import Foundation
import NormDaemon
import NormFormats
import NormTestSupport
import Testing

@Suite("Pipeline counters")
struct PipelineCountersTests {
    /// received = published + rejected + dropped + in flight, whatever happened to each message.
    static func balanced(_ s: PipelineCounters.Snapshot) -> Bool {
        s.received == s.published + s.rejectedTotal + s.droppedTotal + s.inFlight
    }

    @Test("every message is accounted for once, from many threads at once")
    func invariant() {
        let counters = PipelineCounters()
        DispatchQueue.concurrentPerform(iterations: 4) { worker in
            var generator = SeededGenerator(seed: UInt64(worker))
            for _ in 0..<2_000 {
                counters.received(bytes: 10)
                switch generator.next() % 5 {
                case 0: counters.rejected(.header)
                case 1: counters.rejected(.nonfinite)
                case 2: counters.dropped("when_full")
                case 3: counters.published(bytes: 10, latencyMs: 1)
                default: break  // still in flight
                }
                let s = counters.snapshot()
                #expect(
                    Self.balanced(s),
                    "received \(s.received) ≠ published \(s.published) + rejected \(s.rejectedTotal) + dropped \(s.droppedTotal) + in flight \(s.inFlight)")
            }
        }
        let s = counters.snapshot()
        #expect(s.received == 8_000 && Self.balanced(s))
        #expect(s.bytesIn == 80_000 && s.bytesOut == s.published * 10)
        #expect(s.latencyBuckets.reduce(0, +) == s.published)
    }

    @Test("batches per second averages the last ten whole seconds of the monotonic clock")
    func rate() {
        let counters = PipelineCounters()
        let second: UInt64 = 1_000_000_000
        let start = 100 * second
        for i in 0..<20 {
            counters.received(bytes: 1)
            counters.published(bytes: 1, latencyMs: 0.5, now: start + UInt64(i % 10) * second)
        }
        #expect(counters.snapshot(now: start + 10 * second).publishedPerSecond == 2)
        #expect(counters.snapshot(now: start + 30 * second).publishedPerSecond == 0)
    }

    @Test("latency percentiles come from the recent latencies")
    func percentiles() {
        let counters = PipelineCounters()
        for ms in 1...100 {
            counters.received(bytes: 1)
            counters.published(bytes: 1, latencyMs: Double(ms))
        }
        let s = counters.snapshot()
        #expect(s.latencyPercentile(0.5).map { (49...51).contains($0) } == true)
        #expect(s.latencyPercentile(0.99).map { (98...100).contains($0) } == true)
        #expect(PipelineCounters().snapshot().latencyPercentile(0.5) == nil)
    }
}
