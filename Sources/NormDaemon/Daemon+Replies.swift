import Foundation
import NormCore

extension Daemon {
    func requirePipeline(_ name: String) throws(ControlError) -> Pipeline {
        guard let pipeline = pipeline(named: name) else {
            throw ControlError(.unknownPipeline, "no pipeline named \(JSONValue.string(name).serialized)")
        }
        return pipeline
    }

    func statsReply() -> JSONValue {
        let pipelines = pipelines.map { pipeline -> (String, JSONValue) in
            let s = pipeline.state.counters.snapshot()
            func latency(_ p: Double) -> JSONValue { s.latencyPercentile(p).map { .double($0) } ?? .null }
            return (pipeline.configuration.name, .object([
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
            ]))
        }
        return .object([("uptime_s", .double((uptime * 1000).rounded() / 1000)), ("pipelines", .object(pipelines))])
    }

    func showReply(_ pipeline: Pipeline, key: String?) throws(ControlError) -> JSONValue {
        let store = pipeline.state.store
        var entries = store.snapshot()
        if let key {
            entries = entries.filter { ExactString($0.key) == ExactString(key) }
            guard !entries.isEmpty else {
                throw ControlError(.unknownKey, "pipeline \(pipeline.configuration.name) has no key \(JSONValue.string(key).serialized)")
            }
        }
        let keys: [(String, JSONValue)] = store.keepsStatistics ? entries.compactMap { key, entry in
            guard let stats = entry.statistics else { return nil }
            return (key, .object([
                ("num_batches_tracked", .int(stats.batchesTracked)),
                ("running_mean", .array(stats.mean.map { .number(Self.exact($0)) })),
                ("running_var", .array(stats.variance.map { .number(Self.exact($0)) })),
            ]))
        } : []
        return .object([
            ("pipeline", .string(pipeline.configuration.name)), ("kind", .string(pipeline.configuration.norm.kind.rawValue)),
            ("mode", .string(pipeline.state.mode.rawValue)), ("keys", .object(keys)),
        ])
    }

    /// Shortest text that reads back as the same Double (Swift's description is round-trip exact).
    static func exact(_ value: Double) -> String { value.isFinite ? "\(value)" : "null" }
}
