import Foundation
import NATS
import NormCluster
import NormDaemon
import NormFormats

/// `normd bench --jetstream URL`: a JetStream-fed pipeline run by 1, 2, 3… normd instances beside
/// a forwarder that moves the same messages through the same server with the same protocol
/// (pull, publish with a message id and wait for the acknowledgement, acknowledge) and no
/// normalization or state. Each round preloads a fresh input stream, starts its target, and
/// times the outputs from the first to the last; targets are interleaved round by round.
public struct JetStreamBench: Sendable {
    public var url = "nats://127.0.0.1:4222"
    public var instances = [1, 2, 3]
    public var shape = [8, 16, 8, 8]
    public var keys = 12
    public var messages = 3000
    public var rounds = 3
    public var partitions = 6
    public var executable = CommandLine.arguments[0]
    public init() {}

    public struct Round: Sendable {
        public let target: String
        public let messagesPerSecond: Double
    }

    public func run() throws -> [Round] {
        let connection = try NATSConnection(urls: [url], name: "normd bench")
        let jetStream = try connection.jetStream()
        let count = shape.reduce(1, *)
        let body = (0..<count).map { Float(($0 * 7919) % 1000) / 250 - 2 }.withUnsafeBytes { Array($0) }
        var results: [Round] = []
        for round in 0..<rounds {
            for target in ["forwarder"] + instances.map({ "normd x\($0)" }) {
                let name = "b\(getpid())r\(round)\(target.filter(\.isNumber))\(target == "forwarder" ? "f" : "n")"
                var settings = ClusterSettings(pipeline: name, urls: [url])
                (settings.inputStream, settings.inputPrefix) = ("\(name)_IN", "\(name).in")
                (settings.outputStream, settings.outputPrefix) = ("\(name)_OUT", "\(name).out")
                settings.partitions = partitions
                try JetStreamTopology(settings: settings, jetStream: jetStream).ensure()
                // The target starts and settles first; then the input arrives as fast as the server
                // takes it (plain publishes, flushed), and the outputs are timed.
                let publishInput = {
                    for i in 0..<messages {
                        let header = #"{"dtype":"float32","shape":\#(shape),"seq":\#(i / keys)}"#
                        try connection.publish(NATSMessage(subject: "\(settings.inputPrefix).k\(i % keys)", headers: ["Normd-Header": header], body: body))
                    }
                    try connection.flush(timeout: 30)
                }
                let rate =
                    try target == "forwarder"
                    ? forward(settings, jetStream, then: publishInput)
                    : runInstances(Int(target.dropFirst(7)) ?? 1, settings, jetStream, then: publishInput)
                results.append(Round(target: target, messagesPerSecond: rate))
                progress("\(target) round \(round + 1)/\(rounds): \(Int(rate)) messages/s")
                for stream in [settings.inputStream, settings.outputStream!] { _ = try? jetStream.api("STREAM.DELETE.\(stream)", "") }
                for bucket in [settings.stateBucket, settings.memberBucket, settings.refusalBucket] { _ = try? jetStream.api("STREAM.DELETE.KV_\(bucket)", "") }
            }
        }
        endProgress()
        return results
    }

    /// Outputs a second from the first output seen to the last, polling the output stream.
    private func timeOutputs(_ settings: ClusterSettings, _ jetStream: JetStream, timeout: Double = 600) throws -> Double {
        var first: (UInt64, Int)?
        let deadline = MonotonicClock.deadline(after: timeout)
        while MonotonicClock.nanoseconds() < deadline {
            let info = try JSONParser.parse(try jetStream.api("STREAM.INFO.\(settings.outputStream!)", ""))
            let n = info["state"]?["messages"]?.intValue ?? 0
            if first == nil, n > 0 { first = (MonotonicClock.nanoseconds(), n) }
            if n >= messages, let (start, seen) = first {
                return Double(messages - seen) / max(1e-3, Double(MonotonicClock.nanoseconds() - start) / 1e9)
            }
            usleep(2_000)
        }
        throw ClusterError(.server, "the outputs did not all arrive within \(Int(timeout)) s")
    }

    private func runInstances(_ n: Int, _ settings: ClusterSettings, _ jetStream: JetStream, then publish: () throws -> Void) throws -> Double {
        var processes: [Process] = []
        var directories: [URL] = []
        defer {
            for p in processes where p.isRunning { p.terminate() }
            for p in processes { BenchChildren.end(p) }
            for directory in directories { BenchChildren.remove(directory) }
        }
        for i in 0..<n {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("normd-jsbench-\(getpid())-\(settings.pipeline)-\(i)")
            try BenchChildren.makeFolder(directory)
            directories.append(directory)
            let config = directory.appendingPathComponent("bench.toml").path
            try """
            \(benchDaemonTable(directory))
            [[pipeline]]
            name = "\(settings.pipeline)"
            [pipeline.input]
            socket = "jetstream"
            url = "\(url)"
            stream = "\(settings.inputStream)"
            subject_prefix = "\(settings.inputPrefix)"
            partitions = \(partitions)
            [pipeline.output]
            socket = "jetstream"
            url = "\(url)"
            stream = "\(settings.outputStream!)"
            subject_prefix = "\(settings.outputPrefix)"
            [pipeline.norm]
            kind = "batch"
            momentum = 0.1
            """.write(toFile: config, atomically: true, encoding: .utf8)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = ["run", "--config", config]
            process.standardOutput = FileHandle.nullDevice
            try BenchChildren.run(process)
            processes.append(process)
        }
        // Settled: every instance has said it is alive ("m.<id>"; the bucket holds the settings
        // too), and has heartbeated again since (so has counted the others): each asks for its
        // share from the start.
        let members = try jetStream.keyValue(settings.memberBucket)
        func revisions() -> [String: UInt64] {
            Dictionary(
                uniqueKeysWithValues: ((try? members.keys()) ?? []).filter { $0.hasPrefix("m.") }.compactMap { key in
                    (try? members.get(key)).flatMap { $0.map { (key, $0.revision) } }
                })
        }
        let deadline = MonotonicClock.deadline(after: 30)
        var seen = revisions()
        while seen.count < n && MonotonicClock.nanoseconds() < deadline {
            usleep(20_000)
            seen = revisions()
        }
        while MonotonicClock.nanoseconds() < deadline, !revisions().allSatisfy({ key, revision in revision > seen[key, default: 0] }) { usleep(20_000) }
        try publish()
        return try timeOutputs(settings, jetStream)
    }

    /// The same messages through the server with no normd: pull from every partition's consumer,
    /// publish with the message id, wait for the acknowledgement, acknowledge the input.
    private func forward(_ settings: ClusterSettings, _ jetStream: JetStream, then publish: () throws -> Void) throws -> Double {
        let thread = Thread {
            let connection = jetStream.connection
            guard let inbox = try? connection.newInbox(), let subscription = try? connection.subscribe(inbox) else { return }
            var done = 0
            var pins = [String?](repeating: nil, count: settings.partitions)
            while done < messages {
                for p in 0..<settings.partitions {
                    let pull = #"{"batch":64,"no_wait":true,"group":"normd""# + (pins[p].map { #","id":"\#($0)"}"# } ?? "}")
                    try? connection.publish(
                        NATSMessage(subject: "$JS.API.CONSUMER.MSG.NEXT.\(settings.inputStream).\(settings.consumer(p))", reply: inbox, body: Array(pull.utf8)))
                    // A pull ends with a status (404: no more now) or after its 64th message.
                    var delivered = 0
                    while delivered < 64, let message = try? subscription.next(timeout: 5), message.status == nil, let reply = message.reply {
                        delivered += 1
                        if let pin = message.headers["Nats-Pin-Id"] { pins[p] = pin }
                        let key = String(message.subject.split(separator: ".").last ?? "")
                        let output = NATSMessage(
                            subject: "\(settings.outputPrefix).\(key)", headers: ["Normd-Header": message.headers["Normd-Header"] ?? ""], body: message.body)
                        _ = try? jetStream.publish(output, messageID: "\(key):\(reply)")
                        _ = try? connection.request(NATSMessage(subject: reply, body: Array("+ACK".utf8)), timeout: 5)
                        done += 1
                    }
                }
            }
        }
        thread.start()
        try publish()
        return try timeOutputs(settings, jetStream)
    }

    /// The table: messages a second per target, median (min–max), and each as a ratio of the
    /// forwarder's in the same round.
    public static func table(_ rounds: [Round], bench: JetStreamBench) -> String {
        var out = "| target | messages/s median (min–max) | ÷ forwarder, same round (median, min–max) |\n| --- | --- | --- |\n"
        let forwarder = rounds.filter { $0.target == "forwarder" }.map(\.messagesPerSecond)
        for target in ["forwarder"] + bench.instances.map({ "normd x\($0)" }) {
            let rates = rounds.filter { $0.target == target }.map(\.messagesPerSecond)
            guard !rates.isEmpty else { continue }
            let ratios = zip(rates, forwarder).map { $0 / $1 }
            func median(_ v: [Double]) -> Double { v.sorted()[v.count / 2] }
            func summary(_ v: [Double], _ digits: Int) -> String { "\(format(median(v), digits)) (\(format(v.min()!, digits))–\(format(v.max()!, digits)))" }
            out += "| \(target) | \(summary(rates, 0)) | \(summary(ratios, 2)) |\n"
        }
        out +=
            "\n\(bench.messages) messages of \(bench.shape) float32 over \(bench.keys) keys, \(bench.partitions) partitions, \(bench.rounds) rounds interleaved.\n"
        return out
    }
}
