import Foundation
import NormDaemon
import ZeroMQ

/// `normd bench`: normd end to end beside libzmq's own zmq_proxy moving the same messages,
/// each in a process of its own, rounds interleaved (normd, forwarder, normd, …).
public struct EndToEndBench: Sendable {
    public var kind = "batch"
    public var shape = [32, 64, 32, 32]
    public var inFlight = 4
    public var duration = 5.0
    public var warmup = 1.0
    public var rounds = 5
    public var hwm: Int32 = 4
    /// Measure an already running daemon at these endpoints instead of starting one (no forwarder).
    public var endpoints: (input: String, output: String)?
    public var compareWithForwarder = true
    /// Also measure the driver alone (producer and consumer joined directly) in every round, so
    /// figures near its capacity are marked as the driver's, not the target's.
    public var measureDriver = true
    /// Stream keys the producer cycles through; more than one runs the pipeline per key.
    public var keys = 1
    /// With `keys` above it, adds rounds of a daemon with `max_keys` and `evict_lru` beside the
    /// one without a limit, so eviction's cost is read as a ratio from the same run.
    public var maxKeys = 0
    /// Adds rounds of normd and the forwarder with the producer paced at this fraction of the
    /// forwarder's measured capacity: latency below saturation ("normd paced", "forwarder paced").
    public var pacedLoad: Double?
    /// Adds rounds of a pyzmq pass-through forwarder and a pyzmq + NumPy BatchNorm (PythonPeers).
    public var compareWithPython = false
    public var executable = CommandLine.arguments[0]
    public init() {}

    public struct Round: Sendable {
        public let target: String
        public let result: LoadDriver.Result
        /// Resident memory samples of the target process (bytes), one a second, and its peak.
        public let residentSamples: [Int]
        public let peakResident: Int
    }

    public func run() throws -> [Round] {
        let elements = shape.reduce(1, *)
        let buffer = ZMQBuffer(count: elements * 4)
        var seed: UInt32 = 7
        for i in 0..<elements {
            seed = seed &* 1_664_525 &+ 1_013_904_223
            buffer.bytes.storeBytes(of: Float(seed >> 8) / Float(1 << 24) * 4 - 2, toByteOffset: i * 4, as: Float.self)
        }
        let header = "{\"dtype\":\"float32\",\"shape\":[\(shape.map(String.init).joined(separator: ","))]"
        var rounds: [Round] = []
        if compareWithPython { try PythonPeers.checkAvailable() }
        if let endpoints {
            if measureDriver { rounds.append(try measureDriverAlone(buffer: buffer, header: header, label: "driver")) }
            var driver = LoadDriver(input: endpoints.input, output: endpoints.output, payload: buffer, header: header, inFlight: inFlight, hwm: hwm)
            driver.keys = keys
            rounds.append(Round(target: "normd (running)", result: try measure(driver, label: "normd"), residentSamples: [], peakResident: 0))
            return rounds
        }
        for round in 0..<self.rounds {
            if measureDriver {
                rounds.append(try measureDriverAlone(buffer: buffer, header: header, label: "driver round \(round + 1)/\(self.rounds)"))
            }
            for target in ["normd"] + (maxKeys > 0 ? ["normd evicting"] : []) + (compareWithForwarder ? ["forwarder"] : [])
                + (compareWithPython ? PythonPeers.targets : [])
            {
                rounds.append(try measureProcess(target, round: round, buffer: buffer, header: header, rate: nil))
            }
        }
        if let pacedLoad, compareWithForwarder {
            let capacity = Sample(values: rounds.filter { $0.target == "forwarder" }.map(\.result.batchesPerSecond)).median
            for round in 0..<self.rounds {
                for target in ["normd", "forwarder"] {
                    let measured = try measureProcess(target, round: round, buffer: buffer, header: header, rate: pacedLoad * capacity)
                    rounds.append(Round(target: "\(target) paced", result: measured.result, residentSamples: [], peakResident: measured.peakResident))
                }
            }
        }
        endProgress()
        return rounds
    }

    /// One round of `target` in a process of its own, the producer paced at `rate` when given.
    private func measureProcess(_ target: String, round: Int, buffer: ZMQBuffer, header: String, rate: Double?) throws -> Round {
        let directory = try Self.roundDirectory(round: round, target: target)
        defer { BenchChildren.remove(directory) }
        let input = "ipc://\(directory.path)/in"
        let output = "ipc://\(directory.path)/out"
        let process = try start(target, directory: directory, input: input, output: output)
        defer { BenchChildren.end(process) }
        var driver = LoadDriver(input: input, output: output, payload: buffer, header: header, inFlight: inFlight, hwm: hwm)
        driver.keys = keys
        driver.rate = rate
        driver.watched = process.processIdentifier
        let sampler = ResidentSampler(pid: process.processIdentifier)
        sampler.start()
        let label = "\(target)\(rate.map { " paced at \(Int($0)) batches/s" } ?? "") round \(round + 1)/\(self.rounds)"
        let result = try measure(driver, label: label)
        let samples = sampler.stop()
        return Round(target: target, result: result, residentSamples: samples, peakResident: ResidentSampler.peak(pid: process.processIdentifier))
    }

    private static func roundDirectory(round: Int, target: String) throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "normd-bench-\(getpid())-\(round)-\(target.replacingOccurrences(of: " ", with: "-"))")
        try BenchChildren.makeFolder(directory)
        return directory
    }

    /// The producer and consumer joined directly over ipc://, with the same messages and window.
    private func measureDriverAlone(buffer: ZMQBuffer, header: String, label: String) throws -> Round {
        let directory = try Self.roundDirectory(round: 0, target: "driver")
        defer { BenchChildren.remove(directory) }
        let endpoint = "ipc://\(directory.path)/direct"
        var driver = LoadDriver(input: endpoint, output: endpoint, payload: buffer, header: header, inFlight: inFlight, hwm: hwm)
        driver.keys = keys
        driver.direct = true
        return Round(target: "driver", result: try measure(driver, label: label), residentSamples: [], peakResident: 0)
    }

    private func measure(_ driver: LoadDriver, label: String) throws -> LoadDriver.Result {
        try driver.run(warmup: warmup, duration: duration) { batches, elapsed in
            progress("\(label): \(batches) batches in \(format(elapsed, 0)) s, \(format(Double(batches * driver.payload.count) / elapsed / 1e9)) GB/s")
        }
    }

    private func start(_ target: String, directory: URL, input: String, output: String) throws -> Process {
        let peer = PythonPeers.process(target, input: input, output: output, hwm: hwm, perKey: keys > 1)
        let process = peer ?? Process()
        if peer == nil { process.executableURL = URL(fileURLWithPath: executable) }
        if target == "forwarder" {
            process.arguments = ["bench", "--forwarder-process", "--input", input, "--output", output, "--hwm", "\(hwm)"]
        } else if peer == nil {
            let config = directory.appendingPathComponent("bench.toml").path
            try """
            \(benchDaemonTable(directory))
            [[pipeline]]
            name = "bench"
            [pipeline.input]
            socket = "pull"
            bind = ["\(input)"]
            hwm = \(hwm)
            [pipeline.output]
            socket = "push"
            bind = ["\(output)"]
            hwm = \(hwm)
            [pipeline.norm]
            kind = "\(kind)"
            \(kind == "group" ? "groups = \(shape[1] >= 32 ? 32 : 1)" : "")
            momentum = 0.1
            stats = "\(keys > 1 ? "per_key" : "shared")"
            mode = "train"
            \(target == "normd evicting" ? "max_keys = \(maxKeys)\nkey_policy = \"evict_lru\"" : "")
            """.write(toFile: config, atomically: true, encoding: .utf8)
            process.arguments = ["run", "--config", config]
        }
        process.standardOutput = FileHandle.nullDevice
        try BenchChildren.run(process)
        let socket = target == "forwarder" || peer != nil ? nil : "\(directory.path)/ctl.sock"
        let started = waitUntilReady(process, seconds: 10) {
            if let socket { return (try? ControlClient.send(["stats"], socket: socket)) != nil }
            return FileManager.default.fileExists(atPath: "\(directory.path)/out")
        }
        guard started else {
            BenchChildren.end(process)
            throw BenchError("\(target) did not start")
        }
        return process
    }

    /// Runs zmq_proxy from a bound PULL to a bound PUSH until killed (`normd bench --forwarder-process`).
    public static func forwarder(input: String, output: String, hwm: Int32) throws -> Never {
        let context = try ZMQContext()
        let front = try ZMQSocket(context, .pull)
        let back = try ZMQSocket(context, .push)
        try front.setHighWaterMarks(receive: hwm)
        try back.setHighWaterMarks(send: hwm)
        try front.bind(input)
        try back.bind(output)
        signal(SIGTERM) { _ in _exit(0) }
        try zmqProxy(frontend: front, backend: back)
        exit(0)
    }
}

/// Samples a process's resident memory once a second from /proc.
final class ResidentSampler: @unchecked Sendable {
    // `samples` is written only by the sampling thread until `stop` joins it.
    private var samples: [Int] = []
    private let pid: Int32
    private let done = DispatchSemaphore(value: 0)
    private let stopFlag = DispatchSemaphore(value: 0)

    init(pid: Int32) { self.pid = pid }

    func start() {
        Thread { [self] in
            while stopFlag.wait(timeout: .now() + .seconds(1)) == .timedOut {
                if let rss = Self.status(pid: pid, field: "VmRSS:") { samples.append(rss) }
            }
            done.signal()
        }.start()
    }

    func stop() -> [Int] {
        stopFlag.signal()
        done.wait()
        return samples
    }

    static func peak(pid: Int32) -> Int { status(pid: pid, field: "VmHWM:") ?? 0 }

    static func status(pid: Int32, field: String) -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
            let line = text.split(separator: "\n").first(where: { $0.hasPrefix(field) })
        else { return nil }
        return line.split(separator: " ").compactMap { Int($0) }.first.map { $0 * 1024 }
    }
}
