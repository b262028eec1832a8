import Foundation
import NATS
import NormCluster
import NormFormats
import NormTestSupport
import Testing
import ZeroMQ

/// Pipelines with one side on ZeroMQ and the other on JetStream (contract section 8).
@Suite("Hybrid pipelines: ZeroMQ and JetStream")
struct HybridEndToEndTests {
    /// The keys that put one side of a pipeline on JetStream.
    func jetStream(_ server: NATSServer, stream: String, prefix: String) -> String {
        "socket = \"jetstream\"\nurl = \"\(server.url)\"\nstream = \"\(stream)\"\nsubject_prefix = \"\(prefix)\""
    }

    @Test(
        "ZeroMQ in, JetStream out: PyTorch's numbers on <prefix>.<key>, no message id; a key that is no subject token and an output over max_payload are rejected"
    )
    func zeroMQToJetStream() throws {
        let server = try NATSServer()
        let view = try ServerView(server)
        let daemon = try DaemonProcess(
            pipelines: """
                [[pipeline]]
                name = "p"
                [pipeline.input]
                bind = ["ipc://{dir}/in"]
                [pipeline.output]
                \(jetStream(server, stream: "HY_OUT", prefix: "hy.out"))
                dtype = "float64"
                """)
        let peers = TestPeers()
        let push = try peers.socket(.push, connect: ["ipc://\(daemon.directory.path)/in"])
        let x = seededFloats(4 * 3 * 10, seed: 1, mean: 3, std: 2)
        for seq in 0..<3 { try push.sendTensor(key: "cam0", header: #"{"dtype":"float32","shape":[4,3,10],"seq":\#(seq)}"#, floats: x) }
        try push.sendTensor(key: "a.b", header: #"{"dtype":"float32","shape":[4,3,10]}"#, floats: x)
        // 160,000 float32 values: 640 KB in, 1.28 MB out as float64, over the server's 1 MB.
        try push.sendTensor(key: "big", header: #"{"dtype":"float32","shape":[4,4,10000]}"#, floats: seededFloats(160_000, seed: 2))
        #expect(try eventually(timeout: 20) { try view.messageCount("HY_OUT") == 3 })
        #expect(
            try eventually(timeout: 20) {
                let rejected = try daemon.ctl("stats")["pipelines"]?["p"]?["rejected"]
                return rejected?["key"]?.intValue == 1 && rejected?["too_large"]?.intValue == 1
            })
        #expect(daemon.log.contains("max_payload of 1048576"), "the log does not give the server's limit")
        let messages = try view.messages("HY_OUT")
        #expect(messages.map(\.subject) == ["hy.out.cam0", "hy.out.cam0", "hy.out.cam0"])
        #expect(messages.map { $0.header["seq"]?.intValue } == [0, 1, 2])
        let doubles = messages[0].body.withUnsafeBytes { Array($0.bindMemory(to: Double.self)) }
        let expected = expectedBatchNorm(x, n: 4, c: 3, s: 10)
        #expect(zip(doubles, expected).allSatisfy { abs($0 - $1) < 1e-5 } && doubles.count == expected.count)
        let info = try JSONParser.parse(try view.jetStream.api("STREAM.MSG.GET.HY_OUT", #"{"seq":1}"#))
        let headers = String(decoding: Data(base64Encoded: info["message"]?["hdrs"]?.stringValue ?? "") ?? Data(), as: UTF8.self)
        #expect(!headers.contains("Nats-Msg-Id"), "\(headers)")
        #expect(daemon.stop() == 0)
    }

    @Test("JetStream in, ZeroMQ out: outputs arrive on the PUSH socket as [key, header, payload]")
    func jetStreamToZeroMQ() throws {
        let server = try NATSServer()
        let view = try ServerView(server)
        let daemon = try DaemonProcess(
            pipelines: """
                [[pipeline]]
                name = "p"
                [pipeline.input]
                \(jetStream(server, stream: "HY_IN", prefix: "hy.in"))
                partitions = 2
                [pipeline.output]
                bind = ["ipc://{dir}/out"]
                """)
        let peers = TestPeers()
        let pull = try peers.socket(.pull, connect: ["ipc://\(daemon.directory.path)/out"])
        try view.publishInput(prefix: "hy.in", keys: ["cam0"], batches: 3, shape: [4, 3, 10])
        var seqs: [Int] = []
        for _ in 0..<3 {
            let out = try pull.receiveTensor()
            #expect(out.key == "cam0")
            seqs.append(out.header["seq"]?.intValue ?? -1)
            #expect(out.header["norm"]?["batches"]?.intValue == seqs.count)
        }
        #expect(seqs == [0, 1, 2])
        // The key's state is written after its output is sent (contract section 8's order).
        #expect(try eventually { try daemon.ctl("show", "p", "cam0")["keys"]?["cam0"]?["num_batches_tracked"]?.intValue == 3 })

        // A reload that changes a norm key restarts the worker, which binds the output again:
        // the old socket is closed before the new one binds.
        let config = try String(contentsOfFile: daemon.configPath, encoding: .utf8)
        try (config + "\n[pipeline.norm]\nmax_keys = 10\n").write(toFile: daemon.configPath, atomically: true, encoding: .utf8)
        let reply = try daemon.ctl("reload")
        #expect(reply["reloaded"] == .bool(true), "\(reply)")
        #expect(daemon.log.contains("pipeline p restarted"), "\(daemon.log)")
        try view.publishInput(prefix: "hy.in", keys: ["cam0"], batches: 4, shape: [4, 3, 10], from: 3)
        let after = try pull.receiveTensor()
        #expect(after.key == "cam0" && after.header["seq"]?.intValue == 3 && after.header["norm"]?["batches"]?.intValue == 4)
        #expect(daemon.stop() == 0)
    }

    @Test(
        "ZeroMQ in, JetStream out, the server killed and back: \"block\" waits and loses nothing, \"drop\" counts what came meanwhile under disconnected; the log says both"
    )
    func zeroMQToJetStreamOutage() throws {
        let server = try NATSServer()
        let daemon = try DaemonProcess(
            pipelines: """
                [[pipeline]]
                name = "b"
                [pipeline.input]
                bind = ["ipc://{dir}/b"]
                [pipeline.output]
                \(jetStream(server, stream: "HB_OUT", prefix: "hb.out"))
                [[pipeline]]
                name = "d"
                [pipeline.input]
                bind = ["ipc://{dir}/d"]
                [pipeline.output]
                \(jetStream(server, stream: "HD_OUT", prefix: "hd.out"))
                when_full = "drop"
                """)
        let peers = TestPeers()
        let pushes = try ["b", "d"].map { try peers.socket(.push, connect: ["ipc://\(daemon.directory.path)/\($0)"]) }
        let x = seededFloats(4 * 3 * 10, seed: 3, mean: 1, std: 2)
        func send(_ seqs: Range<Int>) throws {
            for seq in seqs {
                for push in pushes { try push.sendTensor(key: "cam", header: #"{"dtype":"float32","shape":[4,3,10],"seq":\#(seq)}"#, floats: x) }
            }
        }
        func count(_ text: String) -> Int { daemon.log.components(separatedBy: text).count - 1 }
        func dropped(_ pipeline: String) throws -> JSONValue? { try daemon.ctl("stats")["pipelines"]?[pipeline]?["dropped_by_reason"] }
        var view = try ServerView(server)
        try send(0..<2)
        #expect(try eventually(timeout: 20) { try view.messageCount("HB_OUT") == 2 && view.messageCount("HD_OUT") == 2 })
        server.kill()
        // Both pipelines' connections have seen it before anything is sent to them.
        #expect(eventually(timeout: 20) { count("NATS connection lost") == 2 })
        try send(2..<5)
        #expect(try eventually(timeout: 20) { try dropped("d")?["disconnected"]?.intValue == 3 })
        #expect(eventually(timeout: 20) { daemon.log.contains("JetStream output disconnected: waiting for the server") })
        #expect(try daemon.ctl("stats")["pipelines"]?["b"]?["in_flight"]?.intValue == 1, "the waiting batch is in flight")
        try server.restart()
        view = try ServerView(server)
        let current = view
        #expect(try eventually(timeout: 30) { try current.messageCount("HB_OUT") == 5 })
        #expect(eventually(timeout: 20) { count("NATS connection back") == 2 })
        #expect(try view.messages("HB_OUT").map { $0.header["seq"]?.intValue } == [0, 1, 2, 3, 4])
        #expect(try view.messages("HD_OUT").map { $0.header["seq"]?.intValue } == [0, 1])
        #expect(try dropped("b") == .object([]))
        #expect(daemon.stop() == 0)
        #expect(count("NATS connection lost") == 2, "closing the connections at shutdown is no lost connection")
    }

    @Test("ZeroMQ in, JetStream out to a stream at its message limit: \"block\" waits for room and loses nothing, \"drop\" counts under when_full")
    func zeroMQToFullJetStream() throws {
        let server = try NATSServer()
        let daemon = try DaemonProcess(
            pipelines: ["b", "d"].map { name in
                """
                [[pipeline]]
                name = "\(name)"
                [pipeline.input]
                bind = ["ipc://{dir}/\(name)"]
                [pipeline.output]
                \(jetStream(server, stream: "F\(name.uppercased())_OUT", prefix: "f\(name).out"))
                \(name == "d" ? "when_full = \"drop\"" : "")
                """
            }.joined(separator: "\n"))
        let view = try ServerView(server)
        func limit(_ stream: String, _ maxMessages: Int) throws {
            let reply = try view.limit(stream, maxMessages: maxMessages)
            #expect(reply.contains("\"max_msgs\":\(maxMessages),"), "\(reply)")
        }
        try limit("FB_OUT", 2)
        try limit("FD_OUT", 2)
        let peers = TestPeers()
        let x = seededFloats(4 * 3 * 10, seed: 5)
        for name in ["b", "d"] {
            let push = try peers.socket(.push, connect: ["ipc://\(daemon.directory.path)/\(name)"])
            for seq in 0..<5 { try push.sendTensor(key: "cam", header: #"{"dtype":"float32","shape":[4,3,10],"seq":\#(seq)}"#, floats: x) }
        }
        func stats(_ pipeline: String) throws -> JSONValue? { try daemon.ctl("stats")["pipelines"]?[pipeline] }
        #expect(try eventually(timeout: 20) { try stats("d")?["dropped_by_reason"]?["when_full"]?.intValue == 3 })
        #expect(eventually(timeout: 20) { daemon.log.contains("JetStream output stream full: waiting for room") })
        #expect(try stats("b")?["dropped"]?.intValue == 0 && stats("b")?["published"]?.intValue == 2)
        try limit("FB_OUT", -1)
        #expect(try eventually(timeout: 20) { try view.messageCount("FB_OUT") == 5 })
        #expect(try view.messages("FB_OUT").map { $0.header["seq"]?.intValue } == [0, 1, 2, 3, 4])
        #expect(try view.messages("FD_OUT").map { $0.header["seq"]?.intValue } == [0, 1])
        #expect(try eventually(timeout: 30) { try stats("b")?["published"]?.intValue == 5 && stats("b")?["in_flight"]?.intValue == 0 })
        #expect(daemon.log.contains("JetStream output stream has room again"))
        #expect(daemon.stop() == 0)
    }
}

/// A daemon with one pipeline "p", JetStream in (2 partitions) and out, on `server`.
/// A server and a cluster daemon that has applied key "x"'s first batch.
private func oneApplied() throws -> (NATSServer, DaemonProcess, ServerView) {
    let server = try NATSServer()
    let daemon = try clusterDaemon(server)
    let view = try ServerView(server)
    try view.publishInput(prefix: "normd.in", keys: ["x"], batches: 1, shape: [4, 3, 10])
    #expect(try eventually(timeout: 20) { try view.messageCount("NORMD_OUT") == 1 })
    // The output is published before the key's state is written: wait for the write too, or a
    // test that deletes the bucket next can make that write fail and the partition be let go.
    #expect(try eventually(timeout: 20) { try view.state("NORMD_STATE_p", key: "x") != nil })
    return (server, daemon, view)
}

/// One JetStream pipeline "p" on `server`, 2 partitions, every other key at its default.
func clusterDaemon(_ server: NATSServer, waitUntilReady: Bool = true) throws -> DaemonProcess {
    try DaemonProcess(
        pipelines: """
            [[pipeline]]
            name = "p"
            [pipeline.input]
            socket = "jetstream"
            url = "\(server.url)"
            partitions = 2
            [pipeline.output]
            socket = "jetstream"
            url = "\(server.url)"
            """, waitUntilReady: waitUntilReady)
}

@Suite("Cluster mode: control commands reach the state of record")
struct ClusterControlTests {
    @Test("ctl reset writes the key's seed statistics to the bucket: the next batch starts from them, not from what the bucket had")
    func resetReachesBucket() throws {
        let server = try NATSServer()
        let daemon = try clusterDaemon(server)
        let view = try ServerView(server)
        try view.publishInput(prefix: "normd.in", keys: ["x"], batches: 3, shape: [4, 3, 10])
        #expect(try eventually(timeout: 20) { try view.state("NORMD_STATE_p", key: "x")?.statistics?.batchesTracked == 3 })
        let reply = try daemon.ctl("reset", "p", "x")
        #expect(reply["reset"] == .array([.string("x")]) && reply["pending"] == nil, "\(reply)")
        let reset = try #require(try view.state("NORMD_STATE_p", key: "x"))
        #expect(reset.statistics == .initial(channels: 3) && reset.lastApplied == 3)
        try view.publishInput(prefix: "normd.in", keys: ["x"], batches: 5, shape: [4, 3, 10], from: 3)
        #expect(try eventually(timeout: 20) { try view.messageCount("NORMD_OUT") == 5 })
        #expect(try view.messages("NORMD_OUT").map { $0.header["norm"]?["batches"]?.intValue } == [1, 2, 3, 1, 2])
        // The key's state is written a moment after its output is published.
        #expect(try eventually(timeout: 20) { try view.state("NORMD_STATE_p", key: "x")?.statistics?.batchesTracked == 2 })
        #expect(try eventually(timeout: 20) { try daemon.ctl("show", "p", "x")["keys"]?["x"]?["num_batches_tracked"]?.intValue == 2 })
        #expect(daemon.stop() == 0)
    }

    @Test("a key whose state in the bucket cannot be read: its batches are rejected `state` and the other keys go on; ctl reset writes it anew")
    func unreadableState() throws {
        let (server, daemon, view) = try oneApplied()
        defer { server.stop() }
        // Something else wrote the key's entry.
        _ = try view.jetStream.keyValue("NORMD_STATE_p").put(KeyState.bucketKey("bad"), Array("not a key state".utf8))
        try view.publishInput(prefix: "normd.in", keys: ["bad", "x"], batches: 3, shape: [4, 3, 10], from: 1)  // input sequences 2 to 5
        #expect(try eventually(timeout: 30) { try view.messageCount("NORMD_OUT") == 5 })
        let stored = try view.messages("NORMD_OUT")
        #expect(stored.map(\.subject) == ["normd.out.x", "normd.out.rejected.bad", "normd.out.x", "normd.out.rejected.bad", "normd.out.x"])
        #expect(stored.filter { $0.subject == "normd.out.x" }.map { $0.header["norm"]?["batches"]?.intValue } == [1, 2, 3])
        // The counts follow each output's state write, a moment after the output itself.
        var stats: JSONValue?
        #expect(
            try eventually(timeout: 20) {
                stats = try daemon.ctl("stats")["pipelines"]?["p"]
                return stats?["rejected"]?["state"]?.intValue == 2 && stats?["published"]?.intValue == 3 && stats?["received"]?.intValue == 5
            }, "\(String(describing: stats))")
        #expect(daemon.log.contains("cannot be read"), "\(daemon.log)")

        // This instance never loaded the key, but the bucket has it: the reset reaches it.
        let reply = try daemon.ctl("reset", "p", "bad")
        #expect(reply["reset"] == .array([.string("bad")]) && reply["pending"] == nil, "\(reply)")
        let rewritten = try #require(try view.state("NORMD_STATE_p", key: "bad"))
        #expect(rewritten.statistics == nil && rewritten.lastApplied == 4)  // after its last rejected input
        try view.publishInput(prefix: "normd.in", keys: ["bad"], batches: 4, shape: [4, 3, 10], from: 3)
        #expect(try eventually(timeout: 30) { try view.messageCount("NORMD_OUT") == 6 })
        #expect(try view.messages("NORMD_OUT").last?.header["norm"]?["batches"]?.intValue == 1)
        #expect(try eventually(timeout: 20) { try view.state("NORMD_STATE_p", key: "bad")?.statistics?.batchesTracked == 1 })
        #expect(try daemon.ctl("reset", "p", "nobody")["error"] == .string("unknown_key"))
        #expect(daemon.stop() == 0)
    }

    @Test(
        "a reset the state bucket cannot take is an error naming the bucket, for a key this instance holds and one it does not; the pipeline is not answered as reset"
    )
    func resetNotWritten() throws {
        let (server, daemon, view) = try oneApplied()
        defer { server.stop() }
        _ = try view.jetStream.api("STREAM.DELETE.KV_NORMD_STATE_p", "")
        for key in ["x", "elsewhere"] {
            let reply = try daemon.ctl("reset", "p", key)
            #expect(reply["error"] == .string("internal") && reply["reset"] == nil, "\(key): \(reply)")
            #expect(reply["detail"]?.stringValue?.contains("NORMD_STATE_p") == true, "\(key): \(reply)")
        }
        let all = try daemon.ctl("reset", "p")
        #expect(all["error"] == .string("internal") && all["detail"]?.stringValue?.contains("\"x\"") == true, "\(all)")
        #expect(daemon.stop() == 0)
    }
}

@Suite("Cluster mode when the server goes away")
struct ClusterReconnectTests {
    @Test("the server is killed and comes back: the daemon keeps running and answering, then goes on where it was, each output once and in order")
    func serverRestart() throws {
        let server = try NATSServer()
        let daemon = try clusterDaemon(server)
        var view = try ServerView(server)
        try view.publishInput(prefix: "normd.in", keys: ["a", "b"], batches: 5, shape: [4, 3, 10])
        #expect(try eventually(timeout: 20) { try view.messageCount("NORMD_OUT") == 10 })
        server.kill()
        // A heartbeat times out (after longer than owner_timeout_s): still up, still answering.
        #expect(eventually(timeout: 30) { daemon.log.contains("heartbeat failed") })
        #expect(daemon.process.isRunning, "the daemon stopped without its server")
        #expect((try? daemon.ctl("stats"))?["pipelines"]?["p"]?["partitions_owned"] != nil)
        try server.restart()
        view = try ServerView(server)
        try view.publishInput(prefix: "normd.in", keys: ["a", "b"], batches: 10, shape: [4, 3, 10], from: 5)
        let current = view
        #expect(try eventually(timeout: 60) { try current.messageCount("NORMD_OUT") == 20 }, "\((try? current.messageCount("NORMD_OUT")) ?? -1) of 20")
        let (outputs, problems) = try view.outputs("NORMD_OUT")
        #expect(problems.isEmpty && outputs.count == 20, "\(problems)")
        #expect(daemon.stop() == 0)
    }
}
