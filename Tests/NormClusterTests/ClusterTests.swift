import Foundation
import NATS
@testable import NormCluster
import NormCore
import NormFormats
import NormTestSupport
import Testing

@Suite("Cluster mode: instances share a pipeline through JetStream")
struct ClusterTests {
    static let keys = (0..<12).map { "key\($0)" }
    static let shape = [4, 3, 4, 4]

    func settings(_ name: String, _ server: NATSServer) -> ClusterSettings {
        var s = ClusterSettings(pipeline: name, urls: [server.url])
        (s.inputStream, s.inputPrefix, s.outputStream, s.outputPrefix) = ("\(name)_IN", "\(name).in", "\(name)_OUT", "\(name).out")
        return s
    }

    /// Outputs by "key:seq"; expects each once and every key's seqs in order.
    func outputs(_ view: ServerView, _ stream: String) throws -> [String: [UInt8]] {
        let (byID, problems) = try view.outputs(stream)
        #expect(problems.isEmpty, "\(problems.prefix(5))")
        return byID
    }

    @Test("one instance: outputs and running statistics are the kernel's bits, each (key, seq) once and in order; a restart reprocesses nothing")
    func singleInstance() throws {
        let server = try NATSServer()
        let view = try ServerView(server)
        let batches = 10, total = Self.keys.count * batches
        let one = settings("ONE", server)
        var worker = try RunningWorker(one)
        try view.publishInput(prefix: one.inputPrefix, keys: Self.keys, batches: batches, shape: Self.shape)
        #expect(try eventually(timeout: 60) { try view.messageCount("ONE_OUT") == total })
        #expect(worker.worker.counters.partitionsOwned == Array(0..<one.partitions))
        worker.stop()
        // A second start finds every key applied: nothing is received again.
        worker = try RunningWorker(one)
        try view.publishInput(prefix: one.inputPrefix, keys: ["late"], batches: 1, shape: Self.shape)
        #expect(try eventually(timeout: 30) { try view.messageCount("ONE_OUT") == total + 1 })
        // Counted once the key's state is written, a moment after its output is in the stream.
        #expect(eventually(timeout: 20) { worker.worker.counters.received.load(ordering: .relaxed) == 1 })
        worker.stop()

        // The reference: the same batches through the normalizer directly, key by key.
        let outputs = try outputs(view, "ONE_OUT")
        #expect(outputs.count == total + 1)
        let normalizer = Normalizer(settings: NormSettings(kind: .batch, momentum: .factor(0.1)), threads: 1)
        let descriptor = TensorDescriptor(dtype: .float32, layout: .nchw, geometry: try TensorGeometry(shape: Self.shape))
        let count = Self.shape.reduce(1, *)
        for (k, key) in Self.keys.enumerated() {
            var statistics: RunningStatistics? = .initial(channels: Self.shape[1])
            for i in 0..<batches {
                let input = seededFloats(count, seed: UInt64(1000 * k + i), mean: Double(k), std: 1 + Double(i % 5))
                var expected = [UInt8](repeating: 0, count: count * 4)
                _ = try input.withUnsafeBytes { input in
                    try expected.withUnsafeMutableBytes { out in
                        try normalizer.normalize(input, as: descriptor, into: out, outputDType: .float32, mode: .train, affine: nil, statistics: &statistics)
                    }
                }
                #expect(outputs["\(key):\(i)"] == expected, "\(key):\(i)")
            }
            let stored = try view.state("NORMD_STATE_ONE", key: key)
            #expect(stored?.statistics == statistics, "\(key): running statistics")
        }
    }

    @Test("a key's state round-trips every bit and its input stream; a cut or foreign value is refused; an earlier build's reads")
    func keyStateCodec() throws {
        let state = KeyState(statistics: RunningStatistics(mean: [1.5, -0.0, .pi], variance: [0x1p-1074, 2, 3], batchesTracked: 7), lastApplied: 42)
        #expect(try KeyState(decoding: state.encoded) == state)
        let empty = KeyState(statistics: nil, lastApplied: 9)
        #expect(try KeyState(decoding: empty.encoded) == empty)
        #expect(throws: ClusterError.self) { _ = try KeyState(decoding: Array(state.encoded.dropLast())) }
        #expect(throws: ClusterError.self) { _ = try KeyState(decoding: Array("{}".utf8)) }
        // Well formed, but no statistics: refused as the state files and init files refuse them.
        for foreign in [
            RunningStatistics(mean: [.nan, 0], variance: [1, 1], batchesTracked: 1), RunningStatistics(mean: [0, 0], variance: [1, -1], batchesTracked: 1),
            RunningStatistics(mean: [0, 0], variance: [1, .infinity], batchesTracked: 1), RunningStatistics(mean: [0, 0], variance: [1, 1], batchesTracked: -3),
        ] {
            #expect(throws: ClusterError.self) { _ = try KeyState(decoding: KeyState(statistics: foreign, lastApplied: 1).encoded) }
        }
        let named = KeyState(statistics: state.statistics, lastApplied: 42, stream: "IN 2026-12-07T03:00:00.123456789Z")
        #expect(try KeyState(decoding: named.encoded) == named)
        #expect(named.encoded.count == state.encoded.count + named.stream!.utf8.count)
        // Written by builds before the stream was kept: "NDK1", last applied, no statistics.
        let legacy = Array("NDK1".utf8) + [9, 0, 0, 0, 0, 0, 0, 0] + [0xFF, 0xFF, 0xFF, 0xFF]
        #expect(try KeyState(decoding: legacy) == KeyState(statistics: nil, lastApplied: 9))
        #expect(KeyState.bucketKey("ñ.a") == "k.c3b12e61")
    }

    @Test("server versions: 2.11 and newer pin consumers")
    func versions() {
        #expect(JetStreamTopology.isAtLeast211("2.15.1") && JetStreamTopology.isAtLeast211("2.11.0") && JetStreamTopology.isAtLeast211("v3.0.0"))
        #expect(!JetStreamTopology.isAtLeast211("2.9.25") && !JetStreamTopology.isAtLeast211("2.10.26") && !JetStreamTopology.isAtLeast211(""))
    }

    @Test("an output stream's subjects take the pipeline's prefix only when they cover every subject under it")
    func subjectCover() {
        for filter in [">", "a.>", "*.>", "*.out.>", "a.*.>", "a.out.>"] { #expect(JetStreamTopology.covers(filter, "a.out.>"), "\(filter)") }
        for filter in ["b.out.>", "out.>", "a.out", "a.out.*", "a.*", "a.out.x.>"] { #expect(!JetStreamTopology.covers(filter, "a.out.>"), "\(filter)") }
    }

    @Test("two pipelines naming one output stream with other prefixes: the second is refused at start, saying why")
    func sharedOutputStream() throws {
        let server = try NATSServer()
        defer { server.stop() }
        let view = try ServerView(server)
        var a = ClusterSettings(pipeline: "a", urls: [server.url])
        (a.outputStream, a.outputPrefix) = ("SHARED_OUT", "a.out")
        var b = a
        (b.pipeline, b.outputPrefix) = ("b", "b.out")
        try JetStreamTopology(settings: a, jetStream: view.jetStream).ensureOutputStream()
        #expect(throws: Never.self) { try JetStreamTopology(settings: a, jetStream: view.jetStream).ensureOutputStream() }
        let error = #expect(throws: ClusterError.self) { try JetStreamTopology(settings: b, jetStream: view.jetStream).ensureOutputStream() }
        #expect(error?.code == .topology && error?.message.contains("do not take b.out.>") == true, "\(String(describing: error))")
    }

    @Test("an instance started with other settings than the last one warns, naming the lines that differ; the same settings do not")
    func agreement() throws {
        let server = try NATSServer()
        defer { server.stop() }
        var settings = ClusterSettings(pipeline: "AGREE", urls: [server.url])
        (settings.inputStream, settings.inputPrefix, settings.outputStream, settings.outputPrefix) = ("AGREE_IN", "agree.in", "AGREE_OUT", "agree.out")
        func start(momentum: String) throws -> [(String, String)] {
            settings.agreement = "kind = \"batch\"\nmomentum = \(momentum)\ndtype = same"
            let worker = try RunningWorker(settings)
            worker.stop()
            return worker.log.all.filter { $0.level == .warning }.map { ("\($0.metadata["here"] ?? "")", "\($0.metadata["last_instance"] ?? "")") }
        }
        #expect(try start(momentum: "0.1").isEmpty)
        let warned = try start(momentum: "0.2")
        #expect(warned.count == 1 && warned.first?.0 == "momentum = 0.2" && warned.first?.1 == "momentum = 0.1", "\(warned)")
        #expect(try start(momentum: "0.2").isEmpty)
    }

    @Test("settings: ack_wait must be shorter than the ownership timeout; keys must be subject tokens")
    func settingsChecks() {
        var s = ClusterSettings(pipeline: "p", urls: ["nats://127.0.0.1:4222"])
        #expect(s.problem == nil)
        (s.ackWait, s.ownerTimeout) = (5, 2)
        #expect(s.problem?.contains("shorter than owner_timeout_s") == true)
        for bad in ["", "a.b", "a*", "a>", "a b", "a\tb"] { #expect(!ClusterSettings.isToken(bad), "\(bad)") }
        #expect(ClusterSettings.isToken("ñ-key_1"))
    }
}
