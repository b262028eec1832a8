import Foundation
import NormDaemon
import NormFormats
import ZeroMQ

/// `normd bench --soak`: runs the real daemon for a while under load and faults, then checks it.
///
/// Load: `producers` threads send `keys` keys of `[8, 4, 64]` float32 batches at `rate` valid
/// batches a second together (by default `load` × the capacity `normd bench` measures first for
/// that shape), each reconnecting every 3–8 s; every 17th message is malformed (bad JSON, an empty
/// shape, a NaN, a short payload); the consumer stalls for 3 s every 12 s while the output blocks
/// (`when_full = "block"`), so producers feel it; SIGHUP reloads arrive every 7 s.
///
/// Checks at the end (printed, and the exit status): the daemon never crashed and exits 0 on
/// SIGTERM; received = published + rejected + dropped + in flight, every malformed message was
/// rejected for its reason and every valid one published; the outputs of every key arrived in
/// send order, none twice; each key's running_mean/running_var equal a float64 recomputation over
/// its published batches (relative 1e-9) and num_batches_tracked their count; resident memory
/// after warm-up (the first 20%) flat within 10%.
public struct Soak: Sendable {
    public var duration = 60.0
    /// Valid batches a second, all producers together; nil: `load` × the measured capacity.
    public var rate: Double?
    public var load = 0.8
    public var keys = 64
    public var producers = 4
    public var executable = CommandLine.arguments[0]
    public init() {}

    static let malformedKinds = ["header", "shape", "nonfinite", "payload_size"]
    static let stallEvery = 12.0, stallFor = 3.0, hangupEvery = 7.0

    /// Runs the soak and returns its report; `report.passed` says whether every check held.
    public func run() throws -> SoakReport {
        var capacity: Double?
        if rate == nil { capacity = try measureCapacity() }
        let rate = self.rate ?? load * capacity!
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("normd-soak-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let endpoints = SoakEndpoints(directory: directory.path)
        let daemon = try startDaemon(endpoints)
        defer { BenchChildren.end(daemon) }
        progress(
            "soak: \(executable), \(format(duration, 0)) s at \(format(rate, 0)) batches/s, \(keys) keys, \(producers) producers, folder \(directory.path)")

        let tally = SoakTally(producers: producers)
        let context = try ZMQContext()
        defer { context.terminate() }
        let workers = (0..<producers).map { index in
            let pool = SoakBatchPool(seed: UInt64(index))
            return (
                pool,
                BenchThread("soak producer \(index)") { [self] in
                    try SoakPeers.produce(
                        index: index, of: producers, keys: keys, rate: rate, pool: pool,
                        endpoints: endpoints, tally: tally, context: context)
                }
            )
        }
        let consumer = BenchThread("soak consumer") { try SoakPeers.consume(endpoints: endpoints, tally: tally, context: context) }
        let deadLetters = BenchThread("soak dead letters") { try SoakPeers.drainDeadLetters(endpoints: endpoints, tally: tally, context: context) }

        var resident: [Int] = []
        var crashed = false
        let start = DispatchTime.now().uptimeNanoseconds
        var elapsed = 0.0
        var nextHangup = Self.hangupEvery
        var ticks = 0
        while elapsed < duration {
            Thread.sleep(forTimeInterval: min(1, duration - elapsed))
            elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            guard daemon.isRunning else {
                crashed = true
                break
            }
            let rss = ResidentSampler.status(pid: daemon.processIdentifier, field: "VmRSS:") ?? 0
            if elapsed > duration * 0.2 { resident.append(rss) }
            if elapsed >= nextHangup {
                kill(daemon.processIdentifier, SIGHUP)
                nextHangup += Self.hangupEvery
            }
            ticks += 1
            // Every second on a terminal (rewritten in place), every 10 s in a log.
            if isatty(STDERR_FILENO) != 0 || ticks % 10 == 0 {
                progress("soak: \(format(elapsed, 0)) s, \(tally.outputs.load(ordering: .relaxed)) batches out, RSS \(rss >> 20) MiB")
            }
        }
        endProgress()
        tally.stop.store(true, ordering: .relaxed)
        let sent = try workers.map { ($0.0, try $0.1.join()) }
        tally.producersFinished.store(true, ordering: .relaxed)
        let received = try consumer.join()
        tally.consumerFinished.store(true, ordering: .relaxed)
        try deadLetters.join()

        var run = SoakRun(rate: rate, capacity: capacity, seconds: elapsed, sent: sent, received: received, resident: resident)
        run.stalledSeconds = Double(tally.stalledNanoseconds.load(ordering: .relaxed)) / 1e9
        if crashed || !daemon.isRunning {
            run.failures.append("normd crashed (exit status \(daemon.terminationStatus))")
        } else {
            run.stats = try? JSONParser.parse(ControlClient.send(["stats"], socket: endpoints.control))["pipelines"]?["soak"]
            run.keys = try? JSONParser.parse(ControlClient.send(["show", "soak"], socket: endpoints.control))["keys"]
            daemon.terminate()
            daemon.waitUntilExit()
            if daemon.terminationStatus != 0 { run.failures.append("normd exited \(daemon.terminationStatus) on SIGTERM") }
        }
        let report = run.report()
        // A failed soak keeps its folder: the daemon's log and state are the evidence.
        if report.passed { try? FileManager.default.removeItem(at: directory) }
        return report
    }

    /// The capacity `normd bench` measures for the soak's shape: batches a second, median of 3 rounds.
    func measureCapacity() throws -> Double {
        var bench = EndToEndBench()
        bench.shape = SoakBatchPool.shape
        bench.inFlight = 32
        bench.hwm = 16
        bench.rounds = 3
        bench.duration = 3
        bench.compareWithForwarder = false
        bench.measureDriver = false
        bench.executable = executable
        let rates = try bench.run().filter { $0.target == "normd" }.map(\.result.batchesPerSecond).sorted()
        progress("soak: capacity \(format(rates[rates.count / 2], 0)) batches/s (normd bench --shape 8,4,64 --in-flight 32 --hwm 16, median of 3 × 3 s)")
        endProgress()
        return rates[rates.count / 2]
    }

    private func startDaemon(_ endpoints: SoakEndpoints) throws -> Process {
        try """
        [daemon]
        control_socket = "\(endpoints.control)"
        state_dir = "\(endpoints.directory)/state"
        checkpoint_interval_s = 2
        log_level = "warning"

        [[pipeline]]
        name = "soak"
        [pipeline.input]
        socket = "pull"
        bind = ["\(endpoints.input)"]
        hwm = 16
        [pipeline.output]
        socket = "push"
        bind = ["\(endpoints.output)"]
        hwm = 16
        when_full = "block"
        dead_letter = "\(endpoints.deadLetters)"
        [pipeline.norm]
        kind = "batch"
        channels = \(SoakBatchPool.channels)
        momentum = 0.1
        """.write(toFile: "\(endpoints.directory)/normd.toml", atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["run", "--config", "\(endpoints.directory)/normd.toml"]
        _ = FileManager.default.createFile(atPath: "\(endpoints.directory)/normd.log", contents: nil)
        let log = FileHandle(forWritingAtPath: "\(endpoints.directory)/normd.log")
        process.standardOutput = log
        process.standardError = log
        try BenchChildren.run(process)
        if waitUntilReady(process, seconds: 20, isReady: { (try? ControlClient.send(["stats"], socket: endpoints.control)) != nil }) {
            return process
        }
        BenchChildren.end(process)
        throw BenchError("normd did not start for the soak; its log is \(endpoints.directory)/normd.log")
    }
}

struct SoakEndpoints: Sendable {
    let directory: String
    var control: String { "\(directory)/ctl.sock" }
    var input: String { "ipc://\(directory)/in" }
    var output: String { "ipc://\(directory)/out" }
    var deadLetters: String { "ipc://\(directory)/dead" }
}
