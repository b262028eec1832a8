import Foundation
import NATS
import NormCluster
import NormCore
import NormFormats
import NormTestSupport
import Testing

/// Cluster mode with the real binary against a real nats-server (contract section 8).
@Suite("Cluster mode end to end: instances share pipelines through JetStream")
struct ClusterEndToEndTests {
    static let keys = (0..<12).map { "k\($0)" }
    static let shape = [4, 4, 6, 6]
    static let batches = 60

    /// A BatchNorm-train pipeline and a GroupNorm pipeline, both JetStream in and out, named
    /// with `suffix` so the reference run and the shared run keep their own streams and buckets.
    static func pipelines(_ url: String, _ suffix: String) -> String {
        ["bn": "kind = \"batch\"\nmomentum = 0.1", "gn": "kind = \"group\"\ngroups = 2"].sorted { $0.key < $1.key }.map { name, norm in
            """
            [[pipeline]]
            name = "\(name)\(suffix)"
            [pipeline.input]
            socket = "jetstream"
            url = "\(url)"
            stream = "\(name.uppercased())\(suffix)_IN"
            subject_prefix = "\(name)\(suffix).in"
            partitions = 6
            ack_wait_s = 1.0
            owner_timeout_s = 3.0
            [pipeline.output]
            socket = "jetstream"
            url = "\(url)"
            stream = "\(name.uppercased())\(suffix)_OUT"
            subject_prefix = "\(name)\(suffix).out"
            [pipeline.norm]
            \(norm)
            """
        }.joined(separator: "\n\n")
    }

    func publish(_ view: ServerView, _ suffix: String, batches: Range<Int>) throws {
        for name in ["bn", "gn"] {
            try view.publishInput(prefix: "\(name)\(suffix).in", keys: Self.keys, batches: batches.upperBound, shape: Self.shape, from: batches.lowerBound)
        }
    }

    /// Outputs by "key:seq"; expects each once and every key's seqs in order.
    func outputs(_ view: ServerView, _ stream: String) throws -> [String: [UInt8]] {
        let (byID, problems) = try view.outputs(stream)
        #expect(problems.isEmpty, "\(problems.prefix(5))")
        return byID
    }

    func count(_ view: ServerView, _ suffix: String) throws -> Int {
        try view.messageCount("BN\(suffix)_OUT") + view.messageCount("GN\(suffix)_OUT")
    }

    /// How many partitions of bn and gn an instance owns now.
    func owned(_ daemon: DaemonProcess) throws -> [Int] {
        let stats = try daemon.ctl("stats")
        return ["bn", "gn"].map { stats["pipelines"]?[$0]?["partitions_owned"]?.arrayValue?.count ?? 0 }
    }

    /// (pipeline, partition) pairs an instance's log says it took.
    func taken(_ daemon: DaemonProcess) -> Set<String> {
        Set(
            daemon.log.split(separator: "\n").filter { $0.contains("msg=\"partition taken\"") }.compactMap { line -> String? in
                let fields = line.split(separator: " ")
                guard let p = fields.first(where: { $0.hasPrefix("partition=") }), let n = fields.first(where: { $0.hasPrefix("pipeline=") }) else {
                    return nil
                }
                return "\(n)/\(p)"
            })
    }

    @Test("three instances, one killed, one stalled past the ownership timeout, a fourth with other threads: one instance's bits")
    func sharedPipelinesMatchOneInstance() throws {
        let server = try NATSServer()
        let view = try ServerView(server)
        let perRun = 2 * Self.keys.count * Self.batches

        // The reference: one instance over the whole input.
        let reference = try DaemonProcess(pipelines: Self.pipelines(server.url, "ref"))
        try publish(view, "ref", batches: 0..<Self.batches)
        #expect(try eventually(timeout: 60) { try count(view, "ref") == perRun }, "reference: \((try? count(view, "ref")) ?? -1) of \(perRun)")
        #expect(reference.stop() == 0)

        // Three instances. A takes everything first and gives back what is over its share.
        let config = Self.pipelines(server.url, "")
        let a = try DaemonProcess(pipelines: config)
        let b = try DaemonProcess(pipelines: config)
        let c = try DaemonProcess(pipelines: config, daemon: "threads = 1")
        try publish(view, "", batches: 0..<10)
        #expect(try eventually(timeout: 60) { try count(view, "") >= 2 * Self.keys.count * 10 })
        #expect(try eventually(timeout: 30) { try owned(a).allSatisfy { $0 <= 2 } }, "A kept more than its share: \((try? owned(a)) ?? [])")
        try publish(view, "", batches: 10..<30)
        #expect(try eventually(timeout: 30) { try owned(b).allSatisfy { $0 > 0 } && owned(c).allSatisfy { $0 > 0 } }, "B and C took no partitions")
        // Killed while it holds deliveries; a fourth instance with another thread count joins.
        try publish(view, "", batches: 30..<45)
        a.signal(SIGKILL)
        let d = try DaemonProcess(pipelines: config, daemon: "threads = 3")
        // Stalled while it holds deliveries, for longer than owner_timeout_s: C and D take its keys.
        // (Stopped amid the input: its pulls stay open, so more is delivered to it while it sleeps.)
        try publish(view, "", batches: 45..<48)
        b.signal(SIGSTOP)
        try publish(view, "", batches: 48..<Self.batches)
        #expect(try eventually(timeout: 90) { try count(view, "") == perRun }, "shared: \((try? count(view, "")) ?? -1) of \(perRun)")
        b.signal(SIGCONT)
        // B woke with deliveries its successors had applied: the bucket refused its writes.
        var conflicts = 0
        _ = try eventually(timeout: 20) {
            let stats = try b.ctl("stats")
            conflicts = ["bn", "gn"].compactMap { stats["pipelines"]?[$0]?["cas_conflicts"]?.intValue }.reduce(0, +)
            return conflicts > 0
        }
        #expect(conflicts > 0, "the stalled instance's late writes were not refused")
        let takenBy = [a, b, c, d].map(taken)
        for daemon in [b, c, d] { daemon.stop() }

        // Ownership moved: some partition was taken by two instances over the run.
        let moved = Set(takenBy.flatMap { $0 }).filter { pair in takenBy.filter { $0.contains(pair) }.count > 1 }
        #expect(!moved.isEmpty, "no partition changed owner: \(takenBy)")

        for name in ["BN", "GN"] {
            let expected = try outputs(view, "\(name)ref_OUT")
            let actual = try outputs(view, "\(name)_OUT")
            #expect(expected.count == perRun / 2 && actual.count == perRun / 2)
            let differing = expected.filter { actual[$0.key] != $0.value }.map(\.key).sorted()
            #expect(differing.isEmpty, "\(name): outputs differ from one instance's: \(differing.prefix(5))")
        }
        for key in Self.keys {
            let one = try view.state("NORMD_STATE_bnref", key: key)
            let many = try view.state("NORMD_STATE_bn", key: key)
            #expect(one?.statistics != nil && one?.statistics == many?.statistics, "\(key): running statistics differ")
            #expect(many?.statistics?.batchesTracked == Int64(Self.batches))
        }
    }

    @Test("a URL's password is never written: not when it is refused at start, not when the connection is back")
    func credentialsRedacted() throws {
        let server = try NATSServer(options: ["--user", "normd", "--pass", "s3cret-pw"])
        let authority = server.url.replacingOccurrences(of: "nats://", with: "")
        let refused = try DaemonProcess(pipelines: Self.pipelines("nats://normd:wrong-pw@\(authority)", "x"), waitUntilReady: false)
        #expect(eventually(timeout: 30) { !refused.process.isRunning })
        #expect(refused.process.terminationStatus != 0)
        #expect(refused.log.contains("nats://normd:***@\(authority)") && !refused.log.contains("wrong-pw"), "\(refused.log.suffix(600))")

        let daemon = try DaemonProcess(pipelines: Self.pipelines("nats://normd:s3cret-pw@\(authority)", "x"))
        server.kill()
        try server.restart()
        #expect(eventually(timeout: 30) { daemon.log.contains("NATS connection back") })
        #expect(daemon.stop() == 0)
        #expect(daemon.log.contains("url=nats://normd:***@\(authority)") && !daemon.log.contains("s3cret-pw"), "\(daemon.log.suffix(2000))")
    }

    @Test("a missing server is a clear error at start; shared statistics and a long ack_wait are refused")
    func startErrors() throws {
        let server = try NATSServer()
        let url = server.url
        server.stop()
        let missing = try DaemonProcess(pipelines: Self.pipelines(url, "x"), waitUntilReady: false)
        #expect(eventually(timeout: 30) { !missing.process.isRunning })
        #expect(missing.process.terminationStatus != 0)
        #expect(missing.log.contains(url), "\(missing.log.suffix(600))")

        let directory = DaemonProcess.makeDirectory()
        let path = directory.appendingPathComponent("bad.toml").path
        let shared = Self.pipelines(url, "x").replacingOccurrences(of: "kind = \"batch\"", with: "kind = \"batch\"\nstats = \"shared\"")
        try shared.write(toFile: path, atomically: true, encoding: .utf8)
        let checked = try runNormd(["check-config", path])
        #expect(checked.status != 0 && checked.stderr.contains("JetStream"), "\(checked.stderr)")
        let slow = Self.pipelines(url, "x").replacingOccurrences(of: "ack_wait_s = 1.0", with: "ack_wait_s = 5.0")
        try slow.write(toFile: path, atomically: true, encoding: .utf8)
        let refused = try runNormd(["check-config", path])
        #expect(refused.status != 0 && refused.stderr.contains("owner_timeout_s"), "\(refused.stderr)")
    }
}

@Suite("normd bench --jetstream")
struct JetStreamBenchTests {
    @Test("measures the forwarder and 1, 2 and 3 instances, each as a ratio of the forwarder in the same round")
    func benchTable() throws {
        let server = try NATSServer()
        let run = try runNormd(["bench", "--jetstream", server.url, "--rounds", "1", "--messages", "120"])
        #expect(run.status == 0, "\(run.stderr.suffix(500))")
        for target in ["forwarder", "normd x1", "normd x2", "normd x3"] {
            let row = run.stdout.split(separator: "\n").first { $0.hasPrefix("| \(target) |") }
            let rate = row.flatMap { Double($0.split(separator: "|")[1].split(separator: " ")[0]) }
            #expect((rate ?? 0) > 0, "\(target): \(row ?? "no row")")
        }
    }
}
