import Foundation
import NormCore
import NormFormats

/// `normd bench --kernel`: every kind against the read-twice-write-once bound, interleaved
/// (bound, kinds, bound, kinds, …) so both see the same machine conditions.
public struct KernelBench: Sendable {
    public var shapes: [[Int]] = [[32, 64, 32, 32], [16, 256, 56, 56]]
    public var threads: [Int] = [1, 2]
    public var rounds = 5
    /// Seconds each timed measurement runs for.
    public var secondsPerMeasurement = 0.3
    /// Adds `variance = "unbiased"` rows for the kinds that normalize with a batch's statistics,
    /// interleaved with the others, so the two are compared in the same run.
    public var withUnbiased = false
    /// Adds batch rows that also measure the batch for drift (`drift` on): free in train mode
    /// (the update's statistics), one more statistics pass in eval mode.
    public var withDrift = false
    public init() {}

    public struct Row: Sendable {
        public let shape: [Int], kind: String, threads: Int
        public let gbps: Sample, boundGBps: Sample
        /// Median of kernel time ÷ bound time over the rounds.
        public let ratio: Sample
    }

    /// A row: its name, the settings and mode, and whether the batch is measured for drift.
    typealias Kind = (name: String, settings: NormSettings, mode: NormMode, drift: Bool)

    static let biasedKinds: [Kind] = [
        ("batch train", NormSettings(kind: .batch), .train, false),
        ("batch eval", NormSettings(kind: .batch), .eval, false),
        ("group (G=32)", NormSettings(kind: .group, groups: 32), .train, false),
        ("layer", NormSettings(kind: .layer), .train, false),
        ("instance", NormSettings(kind: .instance), .train, false),
    ]

    var kinds: [Kind] {
        var kinds = Self.biasedKinds
        if withUnbiased {
            kinds += Self.biasedKinds.filter { $0.mode == .train }.map { kind in
                var unbiased = kind.settings
                unbiased.variance = .unbiased
                return ("\(kind.name), unbiased", unbiased, kind.mode, false)
            }
        }
        if withDrift {
            kinds += [("batch train, drift", NormSettings(kind: .batch), .train, true), ("batch eval, drift", NormSettings(kind: .batch), .eval, true)]
        }
        return kinds
    }

    public func run() throws -> [Row] {
        var rows: [Row] = []
        for shape in shapes {
            let geometry = try TensorGeometry(shape: shape)
            let bytes = geometry.elementCount * 4
            let input = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes, alignment: 64)
            let output = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes, alignment: 64)
            defer {
                input.deallocate()
                output.deallocate()
            }
            var seed: UInt32 = 12345
            for i in 0..<geometry.elementCount {
                seed = seed &* 1_664_525 &+ 1_013_904_223
                input.storeBytes(of: Float(seed >> 8) / Float(1 << 24) * 4 - 2, toByteOffset: i * 4, as: Float.self)
            }
            for threadCount in threads {
                var bound = Sample()
                var kernel = [Sample](repeating: Sample(), count: kinds.count)
                var ratios = [Sample](repeating: Sample(), count: kinds.count)
                let boundLoop = MemoryBound(threads: threadCount)
                for round in 0..<rounds {
                    let boundSeconds = time { boundLoop.run(UnsafeRawBufferPointer(input), into: output) }
                    bound.add(Double(bytes) / boundSeconds / 1e9)
                    for (index, (name, settings, mode, drift)) in kinds.enumerated() {
                        progress("kernel \(shape) \(threadCount) thread(s) round \(round + 1)/\(rounds): \(name)")
                        let normalizer = Normalizer(settings: settings, threads: threadCount)
                        let descriptor = TensorDescriptor(dtype: .float32, geometry: geometry)
                        var statistics: RunningStatistics? = settings.hasRunningStatistics ? .initial(channels: geometry.channels) : nil
                        var tracked = DriftState(channels: geometry.channels)
                        let driftSettings = DriftSettings(warmup: 0)
                        let seconds = time {
                            let running = statistics
                            let outcome = try? normalizer.normalize(
                                UnsafeRawBufferPointer(input), as: descriptor, into: output, outputDType: .float32,
                                mode: mode, affine: nil, statistics: &statistics, measureBatch: drift)
                            if drift, let batch = outcome?.batch, let running { _ = tracked.observe(batch, against: running, settings: driftSettings) }
                        }
                        kernel[index].add(Double(bytes) / seconds / 1e9)
                        ratios[index].add(seconds / boundSeconds)
                    }
                }
                for (index, kind) in kinds.enumerated() {
                    let name = kind.name
                    rows.append(Row(shape: shape, kind: name, threads: threadCount, gbps: kernel[index], boundGBps: bound, ratio: ratios[index]))
                }
            }
        }
        endProgress()
        return rows
    }

    /// Seconds per call: repeats `body` for about `secondsPerMeasurement` after one warm-up call.
    func time(_ body: () -> Void) -> Double {
        body()
        var calls = 0
        let start = now()
        var elapsed = 0.0
        repeat {
            body()
            calls += 1
            elapsed = now() - start
        } while elapsed < secondsPerMeasurement
        return elapsed / Double(calls)
    }

    /// The rows as one JSON line: `{"kernel": [{"shape", "kind", "threads", "gbps_median", "gbps_min",
    /// "gbps_max", "bound_gbps_median", "ratio_median", "ratio_min", "ratio_max"}, …]}`.
    public static func json(_ rows: [Row]) -> String {
        let entries: [JSONValue] = rows.map { r in
            .object([
                ("shape", .array(r.shape.map { .int($0) })), ("kind", .string(r.kind)), ("threads", .int(r.threads)),
                ("gbps_median", .double(r.gbps.median)), ("gbps_min", .double(r.gbps.min)), ("gbps_max", .double(r.gbps.max)),
                ("bound_gbps_median", .double(r.boundGBps.median)), ("ratio_median", .double(r.ratio.median)),
                ("ratio_min", .double(r.ratio.min)), ("ratio_max", .double(r.ratio.max)),
            ])
        }
        return JSONValue.object([("kernel", .array(entries))]).serialized
    }

    public static func table(_ rows: [Row]) -> String {
        var out = "| shape | kind | threads | GB/s median (min–max) | bound GB/s median | kernel time ÷ bound (median, min–max) |\n"
        out += "| --- | --- | --- | --- | --- | --- |\n"
        for r in rows {
            out += "| \(r.shape) | \(r.kind) | \(r.threads) | \(format(r.gbps.median, 1)) (\(format(r.gbps.min, 1))–\(format(r.gbps.max, 1))) "
            out += "| \(format(r.boundGBps.median, 1)) | \(format(r.ratio.median)) (\(format(r.ratio.min))–\(format(r.ratio.max))) |\n"
        }
        return out
    }
}
