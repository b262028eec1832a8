import ArgumentParser
import Foundation
import NormBench

struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure normd: end to end beside a zmq_proxy forwarder (default), or the kernels against the memory bound (--kernel).")

    @Flag(help: "Measure the normalization kernels against the read-twice-write-once bound.")
    var kernel = false

    @Flag(help: "With --kernel: add variance = \"unbiased\" rows, interleaved with the biased ones.")
    var unbiased = false

    @Flag(help: "With --kernel: add batch rows that also measure each batch for drift, interleaved with the others.")
    var drift = false

    @Option(help: "Norm kind of the benchmarked pipeline.") var kind = "batch"
    @Option(help: "Batch shape, comma-separated (default 32,64,32,32; with --kernel, both kernel shapes).") var shape: String?
    @Option(name: .customLong("in-flight"), help: "Batches outstanding between producer and consumer.") var inFlight = 4
    @Option(help: "Measured seconds per round (default 5), of the whole soak (default 60), or of each kernel measurement (default 0.3).")
    var duration: Double?
    @Option(help: "Rounds of each measurement, interleaved.") var rounds = 5
    @Option(help: "High-water mark of every socket, in messages.") var hwm: Int32 = 4
    @Option(help: "Input endpoint of an already running daemon (with --output): measure it instead of starting one.") var input: String?
    @Option(help: "Output endpoint of an already running daemon.") var output: String?
    @Flag(help: "Measure normd alone, without the forwarder rounds.") var noForwarder = false
    @Flag(help: "Also measure a pyzmq pass-through forwarder and a pyzmq + NumPy BatchNorm (what a user would write instead), each in a python3 of its own.")
    var python = false
    @Flag(help: "Print only one JSON line of results on stdout (the table goes to stderr).") var json = false
    @Flag(help: .hidden) var forwarderProcess = false
    @Option(
        help:
            "Measure a JetStream-fed pipeline run by 1, 2 and 3 instances beside a JetStream forwarder, on this NATS server (nats://HOST:PORT, nats-server >= 2.11 with -js)."
    )
    var jetstream: String?
    @Option(help: "With --jetstream: messages per round (default 3000).") var messages = 3000

    @Option(help: "Also measure latency with the producer paced at this fraction of the forwarder's measured capacity (e.g. 0.8).")
    var paced: Double?

    @Flag(help: "Measure every batch size from 64 B to 32 MiB (normd, zmq_proxy and the driver alone at each) and print a Markdown table.")
    var sweep = false
    @Option(name: .customLong("sweep-json"), help: "With --sweep: also write the figures as JSON to this file (scripts/plot-sweep draws them).")
    var sweepJSON: String?
    @Option(name: .customLong("sweep-max"), help: "With --sweep: leave out sizes above this many bytes.") var sweepMax: Int?

    @Flag(help: "Soak the real daemon under load, reconnects, consumer stalls, SIGHUP and malformed messages, then check it.")
    var soak = false
    @Option(help: "Soak: valid batches a second (default: --load × the capacity measured first).") var rate: Double?
    @Option(help: "Soak: fraction of the measured capacity to offer.") var load = 0.8
    @Option(help: "Stream keys the producer cycles through (default 1; the soak's default is 64).") var keys: Int?
    @Option(name: .customLong("max-keys"), help: "Add rounds of a daemon with this max_keys and evict_lru beside one without a limit.") var maxKeys = 0
    @Option(help: "Soak: producer threads.") var producers = 4

    func validate() throws {
        if let shape { _ = try shapeValues(shape) }
        guard rounds >= 1 else { throw ValidationError("--rounds must be at least 1") }
        guard inFlight >= 1 else { throw ValidationError("--in-flight must be at least 1: with none in flight nothing is sent") }
        guard hwm >= 0 else { throw ValidationError("--hwm must be 0 (no limit) or more") }
        guard messages >= 1 else { throw ValidationError("--messages must be at least 1") }
        if let keys, keys < 1 { throw ValidationError("--keys must be at least 1") }
        guard maxKeys >= 0 else { throw ValidationError("--max-keys must be 0 (none) or more") }
        if let sweepMax, sweepMax < 64 { throw ValidationError("--sweep-max must be at least 64, the sweep's smallest batch") }
        if let rate, !(rate > 0 && rate.isFinite) { throw ValidationError("--rate must be a positive number of batches a second") }
        guard load > 0, load <= 1 else { throw ValidationError("--load must be in (0, 1]") }
        guard producers >= 1, (keys ?? 64) >= producers || !soak else { throw ValidationError("--keys must be at least --producers, which must be at least 1") }
        if let paced, !(paced > 0 && paced <= 1) { throw ValidationError("--paced must be in (0, 1]") }
        if python, kind != "batch" { throw ValidationError("--python's NumPy normalizer is BatchNorm: use it with --kind batch") }
        if let duration, !(duration > 0 && duration.isFinite) { throw ValidationError("--duration must be a positive number of seconds") }
    }

    func run() async throws {
        if forwarderProcess {
            try EndToEndBench.forwarder(input: input ?? "", output: output ?? "", hwm: hwm)
        }
        BenchChildren.cleanUpOnSignals()
        if kernel {
            var bench = KernelBench()
            bench.rounds = rounds
            bench.withUnbiased = unbiased
            bench.withDrift = drift
            if let shape { bench.shapes = [try shapeValues(shape)] }
            if let duration { bench.secondsPerMeasurement = duration }
            let rows = try bench.run()
            if json {
                FileHandle.standardError.write(Data(KernelBench.table(rows).utf8))
                print(KernelBench.json(rows))
            } else {
                print(KernelBench.table(rows), terminator: "")
            }
            return
        }
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
        if let jetstream {
            var bench = JetStreamBench()
            bench.url = jetstream
            bench.executable = executable
            bench.rounds = rounds
            bench.messages = messages
            bench.keys = max(1, keys ?? 12)
            if let shape { bench.shape = try shapeValues(shape) }
            print(JetStreamBench.table(try bench.run(), bench: bench), terminator: "")
            return
        }
        if sweep {
            var sweep = SweepBench()
            sweep.rounds = rounds
            sweep.duration = duration ?? 2
            sweep.keys = max(1, keys ?? 1)
            sweep.kind = kind
            sweep.executable = executable
            if let sweepMax { sweep.maxBytes = sweepMax }
            let report = sweep.report(try sweep.run())
            print(report.text, terminator: "")
            if let sweepJSON { try Data((report.json + "\n").utf8).write(to: URL(fileURLWithPath: sweepJSON)) }
            return
        }
        if soak {
            var soak = Soak()
            soak.duration = duration ?? 60
            soak.rate = rate
            soak.load = load
            soak.keys = keys ?? 64
            soak.producers = producers
            soak.executable = executable
            let report = try soak.run()
            print(report.text, terminator: "")
            if !report.passed { throw ExitCode.failure }
            return
        }
        var bench = EndToEndBench()
        bench.kind = kind
        bench.shape = try shapeValues(shape ?? "32,64,32,32")
        bench.inFlight = inFlight
        bench.duration = duration ?? 5
        bench.rounds = rounds
        bench.hwm = hwm
        bench.compareWithForwarder = !noForwarder
        bench.keys = max(1, keys ?? 1)
        bench.maxKeys = max(0, maxKeys)
        bench.pacedLoad = paced
        bench.compareWithPython = python
        bench.executable = executable
        if let input, let output { bench.endpoints = (input, output) }
        let report = BenchReport.summary(try bench.run(), bench: bench)
        if json {
            FileHandle.standardError.write(Data(report.text.utf8))
            print(report.json)
        } else {
            print(report.text, terminator: "")
        }
    }

    /// `--shape`'s dimensions; a part that is not a positive whole number is an error, not skipped.
    /// The batches the bench sends: 2 to 5 dimensions, as the wire format allows, of float32 within
    /// the default `max_message_bytes` (256 MiB), so the daemon accepts them.
    func shapeValues(_ text: String) throws -> [Int] {
        let values = try text.split(separator: ",", omittingEmptySubsequences: false).map { part in
            guard let value = Int(part.trimmingCharacters(in: .whitespaces)), value > 0 else {
                throw ValidationError("--shape must be positive whole numbers separated by commas, not '\(text)'")
            }
            return value
        }
        guard (2...5).contains(values.count) else { throw ValidationError("--shape must have 2 to 5 dimensions ([N, C, ...spatial]), not '\(text)'") }
        var bytes = 4
        for value in values {
            let (product, overflow) = bytes.multipliedReportingOverflow(by: value)
            guard !overflow, product <= 1 << 28 else {
                throw ValidationError("--shape '\(text)' is over 256 MiB of float32, the daemon's default max_message_bytes")
            }
            bytes = product
        }
        return values
    }
}
