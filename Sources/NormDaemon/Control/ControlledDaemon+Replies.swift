import Foundation
import NormCore
import NormFormats
import Synchronization

extension ControlledDaemon {
    func statsReply() -> JSONValue {
        let pipelines = pipelines.map { pipeline -> (String, JSONValue) in
            let s = pipeline.state.counters.snapshot()
            func latency(_ p: Double) -> JSONValue { s.latencyPercentile(p).map { .double($0) } ?? .null }
            var cluster: [(String, JSONValue)] = []
            if let c = pipeline.clusterCounters.withLock({ $0 }) {
                cluster = [
                    ("partitions_owned", .array(c.partitionsOwned.map { .int($0) })),
                    ("duplicates_skipped", .int(c.duplicatesSkipped.load(ordering: .relaxed))),
                    ("redeliveries", .int(c.redeliveries.load(ordering: .relaxed))),
                    ("cas_conflicts", .int(c.conflicts.load(ordering: .relaxed))),
                ]
            }
            return (
                pipeline.configuration.name,
                .object(
                    [
                        ("received", .int(s.received)), ("published", .int(s.published)),
                        ("rejected", .object(s.rejected.sorted { $0.key.rawValue < $1.key.rawValue }.map { ($0.key.rawValue, .int($0.value)) })),
                        ("dropped", .int(s.droppedTotal)),
                        ("dropped_by_reason", .object(s.dropped.sorted { $0.key < $1.key }.map { ($0.key, .int($0.value)) })),
                        ("in_flight", .int(s.inFlight)), ("bytes_in", .int(s.bytesIn)), ("bytes_out", .int(s.bytesOut)),
                        ("batches_per_s", .double(s.publishedPerSecond)),
                        ("latency_ms", .object([("p50", latency(0.5)), ("p99", latency(0.99))])),
                        ("dead_letters", .object([("sent", .int(s.deadLettersSent)), ("dropped", .int(s.deadLettersDropped))])),
                        ("keys", .int(pipeline.state.store.count)),
                        ("mode", .string(pipeline.state.mode.rawValue)),
                    ] + cluster)
            )
        }
        return .object([("uptime_s", .double((uptime * 1000).rounded() / 1000)), ("pipelines", .object(pipelines))])
    }

    /// `show`: written straight into the reply text, key by key, in byte order — no tree of JSON
    /// values, so a large reply costs its own bytes and no more, and gives them all back after.
    /// With `limit`, at most that many keys after `after`, and `"next"` while more remain.
    func showReply(_ pipeline: Pipeline, key: String?, limit: Int?, after: String?) throws(ControlError) -> String {
        let store = pipeline.state.store
        let page: (entries: [(key: String, entry: StatisticsStore.Entry)], next: String?)
        if let key {
            guard let entry = store.entry(key) else {
                throw ControlError(.unknownKey, "pipeline \(pipeline.configuration.name) has no key \(JSONValue.string(key).serialized)")
            }
            page = ([(key, entry)], nil)
        } else {
            page = store.page(after: after, limit: limit)
        }
        var out = "{\"pipeline\":"
        JSONValue.writeString(pipeline.configuration.name, to: &out)
        out += ",\"kind\":\"\(pipeline.configuration.norm.kind.rawValue)\",\"mode\":\"\(pipeline.state.mode.rawValue)\",\"keys\":{"
        var first = true
        let drifts = pipeline.configuration.norm.driftSettings != nil
        for (key, entry) in page.entries where store.keepsStatistics {
            guard let stats = entry.statistics else { continue }
            if !first { out += "," }
            first = false
            JSONValue.writeString(key, to: &out)
            out += ":{\"num_batches_tracked\":\(stats.batchesTracked),\"running_mean\":["
            Self.writeNumbers(stats.mean, to: &out)
            out += "],\"running_var\":["
            Self.writeNumbers(stats.variance, to: &out)
            out += "]"
            if drifts {
                let drift = entry.drift
                out += ",\"drift\":{\"score\":\(Self.exact(drift?.score ?? 0)),\"channel\":\(drift?.channel ?? 0),\"alarm\":\(drift?.alarm ?? false)}"
            }
            out += "}"
        }
        out += "}"
        if let next = page.next {
            out += ",\"next\":"
            JSONValue.writeString(next, to: &out)
        }
        return out + "}\n"
    }

    /// `drift`: every key with a drift score, highest first (ties in byte order); `keys` is empty
    /// and `drift` says "off" when the pipeline does not score drift.
    func driftReply(_ pipeline: Pipeline) -> JSONValue {
        let norm = pipeline.configuration.norm
        var ranked: [(key: String, drift: DriftState)] = []
        if norm.driftSettings != nil {
            ranked = pipeline.state.store.snapshot().compactMap { item in item.entry.drift.map { (item.key, $0) } }
            ranked.sort { $0.drift.score != $1.drift.score ? $0.drift.score > $1.drift.score : ExactString($0.key) < ExactString($1.key) }
        }
        let mode = norm.settings.hasRunningStatistics ? norm.drift.rawValue : "off"
        return .object([
            ("pipeline", .string(pipeline.configuration.name)), ("drift", .string(mode)),
            (
                "keys",
                .array(
                    ranked.map { key, drift in
                        .object([("key", .string(key)), ("score", .double(drift.score)), ("channel", .int(drift.channel)), ("alarm", .bool(drift.alarm))])
                    })
            ),
        ])
    }

    private static func writeNumbers(_ values: [Double], to out: inout String) {
        for (i, value) in values.enumerated() {
            if i > 0 { out += "," }
            out += exact(value)
        }
    }

    /// Shortest text that reads back as the same Double (Swift's description is round-trip exact).
    static func exact(_ value: Double) -> String { value.isFinite ? "\(value)" : "null" }
}
