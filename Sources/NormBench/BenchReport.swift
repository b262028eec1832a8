import Foundation
import NormDaemon
import NormFormats

/// Turns interleaved rounds into the figures docs/benchmarks.md names.
public enum BenchReport {
    /// A figure whose batches/s times this reaches the driver's capacity is the driver's.
    static let driverMargin = 1.25

    /// One target's figures over its rounds.
    public struct Target: Sendable {
        public var gigabytesPerSecond = Sample()
        public var batchesPerSecond = Sample()
        /// Medians over the rounds of each round's percentile, and the largest latency seen.
        public var p50Ms = Double.nan
        public var p99Ms = Double.nan
        public var maxMs = Double.nan
        public var peakResident = 0
        /// Within `driverMargin` of the driver's own capacity: the figure measures the driver.
        public var driverBound = false
        /// Over each round's measured window (medians of the rounds): the whole machine's busy
        /// share, and the target process's CPU time per batch, in µs.
        public var machineBusy = Sample()
        public var cpuMicrosecondsPerBatch = Sample()

        var json: JSONValue {
            var fields: [(String, JSONValue)] = [
                ("gbps_median", .double(gigabytesPerSecond.median)), ("gbps_min", .double(gigabytesPerSecond.min)),
                ("gbps_max", .double(gigabytesPerSecond.max)), ("batches_per_s", .double(batchesPerSecond.median)),
                ("batches_per_s_min", .double(batchesPerSecond.min)), ("batches_per_s_max", .double(batchesPerSecond.max)),
                ("p50_ms", .double(p50Ms)), ("p99_ms", .double(p99Ms)), ("max_ms", .double(maxMs)), ("peak_rss_bytes", .int(peakResident)),
                ("driver_bound", .bool(driverBound)),
            ]
            if !machineBusy.isEmpty { fields.append(("machine_busy", .double(machineBusy.median))) }
            if !cpuMicrosecondsPerBatch.isEmpty { fields.append(("cpu_us_per_batch", .double(cpuMicrosecondsPerBatch.median))) }
            return .object(fields)
        }
    }

    public struct Figures: Sendable {
        public var targets: [String: Target] = [:]
        /// The driver's capacity (median batches/s of its rounds), when it was measured.
        public var driverCapacity: Double?
    }

    static let targetOrder = [
        "driver", "normd", "normd evicting", "forwarder", PythonPeers.forwarderTarget, PythonPeers.normalizerTarget, "normd (running)", "normd paced",
        "forwarder paced",
    ]

    /// Each target's medians and spreads; figures near the driver's capacity are marked.
    public static func figures(_ rounds: [EndToEndBench.Round]) -> Figures {
        var figures = Figures()
        let driverRates = rounds.filter { $0.target == "driver" }.map(\.result.batchesPerSecond)
        figures.driverCapacity = driverRates.isEmpty ? nil : Sample(values: driverRates).median
        for name in targetOrder {
            let mine = rounds.filter { $0.target == name }
            guard !mine.isEmpty else { continue }
            var target = Target()
            var p50 = Sample()
            var p99 = Sample()
            for r in mine {
                target.gigabytesPerSecond.add(r.result.gigabytesPerSecond)
                target.batchesPerSecond.add(r.result.batchesPerSecond)
                p50.add(r.result.percentile(0.5))
                p99.add(r.result.percentile(0.99))
                if let cpu = r.result.cpu {
                    target.machineBusy.add(cpu.machineBusy)
                    if let seconds = cpu.processSeconds, r.result.batches > 0 { target.cpuMicrosecondsPerBatch.add(seconds / Double(r.result.batches) * 1e6) }
                }
            }
            target.p50Ms = p50.median
            target.p99Ms = p99.median
            target.maxMs = mine.flatMap(\.result.latenciesMs).max() ?? .nan
            target.peakResident = mine.map(\.peakResident).max() ?? 0
            target.driverBound =
                name != "driver" && !name.hasSuffix("paced") && figures.driverCapacity.map { target.batchesPerSecond.median * driverMargin >= $0 } == true
            figures.targets[name] = target
        }
        return figures
    }

    public static func summary(_ rounds: [EndToEndBench.Round], bench: EndToEndBench) -> (text: String, json: String) {
        var text =
            "normd bench: kind \(bench.kind), \(bench.keys) key\(bench.keys == 1 ? "" : "s")\(bench.maxKeys > 0 ? " (evicting rounds: max_keys \(bench.maxKeys))" : ""), shape \(bench.shape) float32 (\(format(Double(bench.shape.reduce(4, *)) / 1_048_576, 1)) MiB), "
        text += "\(bench.inFlight) in flight, HWM \(bench.hwm), ipc://, \(bench.rounds) rounds × \(format(bench.duration, 0)) s\n"
        var json: [(String, JSONValue)] = [
            ("kind", .string(bench.kind)), ("shape", .array(bench.shape.map { .int($0) })),
            ("in_flight", .int(bench.inFlight)), ("rounds", .int(bench.rounds)),
        ]
        let figures = figures(rounds)
        for name in targetOrder {
            guard let t = figures.targets[name] else { continue }
            text += "  \(name): \(format(t.gigabytesPerSecond.median)) GB/s (\(format(t.gigabytesPerSecond.min))–\(format(t.gigabytesPerSecond.max))), "
            text += "\(format(t.batchesPerSecond.median, 0)) batches/s, latency p50 \(format(t.p50Ms)) ms, p99 \(format(t.p99Ms)) ms, max \(format(t.maxMs)) ms"
            if t.peakResident > 0 { text += ", peak RSS \(t.peakResident / 1_048_576) MiB" }
            if !t.cpuMicrosecondsPerBatch.isEmpty { text += ", CPU \(format(t.cpuMicrosecondsPerBatch.median, 1)) µs a batch" }
            if !t.machineBusy.isEmpty { text += ", machine \(format(t.machineBusy.median * 100, 0))% busy" }
            if name == "driver" { text += " (the producer and consumer joined directly: the most this driver can show)" }
            if t.driverBound { text += " — BOUND BY THE DRIVER (within \(Self.driverMargin)× of its capacity), not a result" }
            text += "\n"
            guard case .object(var fields) = t.json else { continue }
            if name == "driver" || figures.driverCapacity == nil { fields.removeAll { $0.0 == "driver_bound" } }
            if name == "normd" {
                // Flat memory: resident size at the end of each round against after its first second.
                let growth = rounds.filter { $0.target == name }.compactMap { r -> Double? in
                    guard let first = r.residentSamples.first, let last = r.residentSamples.last, first > 0 else { return nil }
                    return Double(last) / Double(first)
                }
                if let worst = growth.max() {
                    text += "  normd resident memory, end of round ÷ after its first second: worst \(format(worst, 3))\n"
                    fields.append(("rss_growth_worst", .double(worst)))
                }
            }
            json.append((name, .object(fields)))
        }
        let medians = figures.targets.mapValues(\.gigabytesPerSecond.median)
        if let normd = medians["normd"], let evicting = medians["normd evicting"] {
            text += "  evicting ÷ no limit (medians): \(format(evicting / normd))\n"
            json.append(("ratio_evicting", .double(evicting / normd)))
        }
        if let normd = medians["normd"], let forwarder = medians["forwarder"] {
            text += "  normd ÷ forwarder (medians): \(format(normd / forwarder))\n"
            json.append(("ratio_to_forwarder", .double(normd / forwarder)))
        }
        for (peer, key) in [(PythonPeers.forwarderTarget, "ratio_to_pyzmq_forwarder"), (PythonPeers.normalizerTarget, "ratio_to_pyzmq_numpy")] {
            guard let normd = medians["normd"], let other = medians[peer] else { continue }
            text += "  normd ÷ \(peer) (medians): \(format(normd / other))\n"
            json.append((key, .double(normd / other)))
        }
        if let normd = figures.targets["normd paced"], let forwarder = figures.targets["forwarder paced"], let load = bench.pacedLoad,
            let capacity = figures.targets["forwarder"]?.batchesPerSecond.median
        {
            text += "  paced at \(format(load)) × the forwarder's capacity (\(format(load * capacity, 0)) batches/s offered): "
            text += "p99 normd ÷ forwarder \(format(normd.p99Ms / forwarder.p99Ms)) (normd delivered \(format(normd.batchesPerSecond.median, 0)) batches/s)\n"
            json.append(("paced_load", .double(load)))
            json.append(("ratio_p99_paced", .double(normd.p99Ms / forwarder.p99Ms)))
        }
        return (text, JSONValue.object(json).serialized)
    }
}
