import Foundation
import NormFormats

/// `normd bench --sweep`: the end-to-end bench at batch sizes from 64 B to 32 MiB, normd beside
/// zmq_proxy and the driver alone at each, rounds interleaved within a size.
public struct SweepBench: Sendable {
    /// One size: its shape (float32) and the window of batches in flight that suits it (many
    /// small batches in flight, few large ones, as docs/benchmarks.md says).
    public struct Size: Sendable {
        public let shape: [Int]
        public let inFlight: Int
        public let hwm: Int32
        public var bytes: Int { shape.reduce(4, *) }
    }

    public static let sizes: [Size] = [
        Size(shape: [2, 4, 2], inFlight: 128, hwm: 1000),  // 64 B
        Size(shape: [4, 4, 16], inFlight: 128, hwm: 1000),  // 1 KiB
        Size(shape: [8, 4, 64], inFlight: 128, hwm: 1000),  // 8 KiB
        Size(shape: [16, 16, 64], inFlight: 64, hwm: 1000),  // 64 KiB
        Size(shape: [16, 64, 16, 16], inFlight: 16, hwm: 16),  // 1 MiB
        Size(shape: [32, 64, 32, 32], inFlight: 4, hwm: 4),  // 8 MiB
        Size(shape: [32, 64, 64, 64], inFlight: 4, hwm: 4),  // 32 MiB
    ]

    public var rounds = 3
    public var duration = 2.0
    public var keys = 1
    public var kind = "batch"
    public var executable = CommandLine.arguments[0]
    /// At most this many bytes: `--sweep-max` trims the largest sizes (for a quick look or a test).
    public var maxBytes = Int.max
    public init() {}

    public struct Row: Sendable {
        public let size: Size
        public let report: BenchReport.Figures
    }

    public func run() throws -> [Row] {
        try Self.sizes.filter { $0.bytes <= maxBytes }.map { size in
            var bench = EndToEndBench()
            bench.kind = kind
            bench.shape = size.shape
            bench.inFlight = size.inFlight
            bench.hwm = size.hwm
            bench.rounds = rounds
            bench.duration = duration
            bench.warmup = 0.5
            bench.keys = keys
            bench.executable = executable
            return Row(size: size, report: BenchReport.figures(try bench.run()))
        }
    }

    static func sizeLabel(_ bytes: Int) -> String {
        if bytes >= 1 << 20 { return "\(bytes >> 20) MiB" }
        if bytes >= 1 << 10 { return "\(bytes >> 10) KiB" }
        return "\(bytes) B"
    }

    /// The Markdown table the README shows, and the JSON `scripts/plot-sweep` draws from.
    public func report(_ rows: [Row]) -> (text: String, json: String) {
        var text =
            "normd bench --sweep: kind \(kind), \(keys) key\(keys == 1 ? "" : "s"), float32, ipc://, \(rounds) rounds × \(format(duration, 0)) s per target and size, interleaved\n\n"
        text +=
            "| batch | shape | in flight | normd batches/s | zmq_proxy batches/s | normd ÷ zmq_proxy | normd GB/s | zmq_proxy GB/s | normd p50 / p99 ms | zmq_proxy p50 / p99 ms | driver batches/s |\n"
        text += "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n"
        var items: [JSONValue] = []
        for row in rows {
            let f = row.report
            guard let normd = f.targets["normd"], let forwarder = f.targets["forwarder"] else { continue }
            let driver = f.targets["driver"]
            func rate(_ t: BenchReport.Target) -> String {
                "\(format(t.batchesPerSecond.median, 0)) (\(format(t.batchesPerSecond.min, 0))–\(format(t.batchesPerSecond.max, 0)))\(t.driverBound ? " ⚠ driver-bound" : "")"
            }
            let ratio = normd.gigabytesPerSecond.median / forwarder.gigabytesPerSecond.median
            text +=
                "| \(Self.sizeLabel(row.size.bytes)) | \(row.size.shape.map(String.init).joined(separator: "×")) | \(row.size.inFlight) | \(rate(normd)) | \(rate(forwarder)) | "
            text += "\(format(ratio)) | \(format(normd.gigabytesPerSecond.median)) | \(format(forwarder.gigabytesPerSecond.median)) | "
            text += "\(format(normd.p50Ms)) / \(format(normd.p99Ms)) | \(format(forwarder.p50Ms)) / \(format(forwarder.p99Ms)) | "
            text += "\(driver.map { format($0.batchesPerSecond.median, 0) } ?? "—") |\n"
            var fields: [(String, JSONValue)] = [
                ("bytes", .int(row.size.bytes)), ("shape", .array(row.size.shape.map { .int($0) })), ("in_flight", .int(row.size.inFlight)),
                ("ratio", .double(ratio)),
            ]
            for (name, target) in [("normd", normd), ("forwarder", forwarder)] + (driver.map { [("driver", $0)] } ?? []) {
                fields.append((name, target.json))
            }
            items.append(.object(fields))
        }
        text +=
            "\n⚠ driver-bound: within \(BenchReport.driverMargin)× of the driver's own capacity (producer and consumer joined directly), so the figure measures the driver.\n"
        let json = JSONValue.object([
            ("kind", .string(kind)), ("keys", .int(keys)), ("rounds", .int(rounds)), ("duration_s", .double(duration)), ("sizes", .array(items)),
        ])
        return (text, json.serialized)
    }
}
