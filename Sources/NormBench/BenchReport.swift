import Foundation
import NormDaemon
import NormFormats

/// Turns interleaved rounds into the figures docs/benchmarks.md names.
public enum BenchReport {
    /// A figure whose batches/s times this reaches the driver's capacity is the driver's.
    static let driverMargin = 1.25

    public static func summary(_ rounds: [EndToEndBench.Round], bench: EndToEndBench) -> (text: String, json: String) {
        var text =
            "normd bench: kind \(bench.kind), \(bench.keys) key\(bench.keys == 1 ? "" : "s")\(bench.maxKeys > 0 ? " (evicting rounds: max_keys \(bench.maxKeys))" : ""), shape \(bench.shape) float32 (\(format(Double(bench.shape.reduce(4, *)) / 1_048_576, 1)) MiB), "
        text += "\(bench.inFlight) in flight, HWM \(bench.hwm), ipc://, \(bench.rounds) rounds × \(format(bench.duration, 0)) s\n"
        var json: [(String, JSONValue)] = [
            ("kind", .string(bench.kind)), ("shape", .array(bench.shape.map { .int($0) })),
            ("in_flight", .int(bench.inFlight)), ("rounds", .int(bench.rounds)),
        ]
        var medians: [String: Double] = [:]
        // The driver's capacity, when measured: a figure within driverMargin of it measures the driver.
        let driverRates = rounds.filter { $0.target == "driver" }.map(\.result.batchesPerSecond)
        let driverCapacity = driverRates.isEmpty ? nil : Sample(values: driverRates).median
        for target in ["driver", "normd", "normd evicting", "forwarder", "normd (running)"] {
            let mine = rounds.filter { $0.target == target }
            guard !mine.isEmpty else { continue }
            var gbps = Sample()
            var rate = Sample()
            var p50 = Sample()
            var p99 = Sample()
            for r in mine {
                gbps.add(r.result.gigabytesPerSecond)
                rate.add(r.result.batchesPerSecond)
                p50.add(r.result.percentile(0.5))
                p99.add(r.result.percentile(0.99))
            }
            let maxLatency = mine.flatMap(\.result.latenciesMs).max() ?? .nan
            let peak = mine.map(\.peakResident).max() ?? 0
            medians[target] = gbps.median
            text += "  \(target): \(format(gbps.median)) GB/s (\(format(gbps.min))–\(format(gbps.max))), \(format(rate.median, 0)) batches/s, "
            text += "latency p50 \(format(p50.median)) ms, p99 \(format(p99.median)) ms, max \(format(maxLatency)) ms"
            if peak > 0 { text += ", peak RSS \(peak / 1_048_576) MiB" }
            let driverBound = target != "driver" && driverCapacity.map { rate.median * Self.driverMargin >= $0 } == true
            if target == "driver" { text += " (the producer and consumer joined directly: the most this driver can show)" }
            if driverBound { text += " — BOUND BY THE DRIVER (within \(Self.driverMargin)× of its capacity), not a result" }
            text += "\n"
            var fields: [(String, JSONValue)] = [
                ("gbps_median", .double(gbps.median)), ("gbps_min", .double(gbps.min)), ("gbps_max", .double(gbps.max)),
                ("batches_per_s", .double(rate.median)), ("p50_ms", .double(p50.median)),
                ("p99_ms", .double(p99.median)), ("max_ms", .double(maxLatency)), ("peak_rss_bytes", .int(peak)),
            ]
            if target != "driver" && driverCapacity != nil { fields.append(("driver_bound", .bool(driverBound))) }
            if target == "normd" {
                // Flat memory: resident size at the end of each round against after its first second.
                let growth = mine.compactMap { r -> Double? in
                    guard let first = r.residentSamples.first, let last = r.residentSamples.last, first > 0 else { return nil }
                    return Double(last) / Double(first)
                }
                if let worst = growth.max() {
                    text += "  normd resident memory, end of round ÷ after its first second: worst \(format(worst, 3))\n"
                    fields.append(("rss_growth_worst", .double(worst)))
                }
            }
            json.append((target, .object(fields)))
        }
        if let normd = medians["normd"], let evicting = medians["normd evicting"] {
            text += "  evicting ÷ no limit (medians): \(format(evicting / normd))\n"
            json.append(("ratio_evicting", .double(evicting / normd)))
        }
        if let normd = medians["normd"], let forwarder = medians["forwarder"] {
            text += "  normd ÷ forwarder (medians): \(format(normd / forwarder))\n"
            json.append(("ratio_to_forwarder", .double(normd / forwarder)))
        }
        return (text, JSONValue.object(json).serialized)
    }
}
