import Foundation
import NormDaemon
import NormFormats
import NormTestSupport
import Testing
import ZeroMQ

@Suite("normd end to end over ipc://")
struct PipelineEndToEndTests {
    @Test("batch train: PyTorch's numbers, header passed through with seq exact and a norm object")
    func batchTrain() throws {
        let daemon = try DaemonProcess(pipelines: pipelineTOML("p", deadLetter: true))
        let peers = TestPeers()
        let push = try peers.socket(.push, connect: ["ipc://\(daemon.directory.path)/p.in"])
        let pull = try peers.socket(.pull, connect: ["ipc://\(daemon.directory.path)/p.out"])
        let x = seededFloats(4 * 3 * 10, seed: 1, mean: 3, std: 2)
        try push.sendTensor(
            key: "cam0", header: #"{"dtype":"float32","shape":[4,3,10],"seq":18446744073709551615,"frame_id":12345678901234567890,"tags":["a",{"b":null}]}"#,
            floats: x)
        let out = try pull.receiveTensor()
        #expect(out.key == "cam0")
        #expect(maxError(out.floats, expectedBatchNorm(x, n: 4, c: 3, s: 10)) < 1e-5)
        #expect(out.header["seq"] == .number("18446744073709551615"))
        #expect(out.header["frame_id"] == .number("12345678901234567890"))
        #expect(out.header["tags"] == .array([.string("a"), .object([("b", .null)])]))
        #expect(out.header["norm"] == .object([("kind", .string("batch")), ("mode", .string("train")), ("batches", .number("1"))]))
        let show = try daemon.ctl("show", "p", "cam0")
        #expect(show["keys"]?["cam0"]?["num_batches_tracked"] == .number("1"))
        #expect(daemon.stop() == 0)
    }

    @Test("group, layer and instance kinds, float64 in and float16 out, NHWC", arguments: ["group", "layer", "instance"])
    func otherKinds(kind: String) throws {
        let daemon = try DaemonProcess(
            pipelines: pipelineTOML(
                "p", kind: kind, deadLetter: true, norm: kind == "group" ? "groups = 2\nchannels = 4" : "", outputExtra: #"dtype = "float32""#))
        let peers = TestPeers()
        let push = try peers.socket(.push, connect: ["ipc://\(daemon.directory.path)/p.in"])
        let pull = try peers.socket(.pull, connect: ["ipc://\(daemon.directory.path)/p.out"])
        // [N=2, C=4, S=6] as float64, channels last in memory.
        let values = seededFloats(48, seed: 3, mean: -1, std: 3).map(Double.init)
        try push.send(frames: [Array("k".utf8), Array(#"{"dtype":"float64","shape":[2,4,6],"layout":"NHWC"}"#.utf8), values.withUnsafeBytes { Array($0) }])
        let out = try pull.receiveTensor()
        #expect(out.header["dtype"] == .string("float32"))
        #expect(out.header["layout"] == .string("NHWC"))
        #expect(out.header["norm"]?["batches"] == nil)
        // Reference in float64 from the formula: element (n, s, c) at index (n*6 + s)*4 + c.
        func partition(_ n: Int, _ c: Int) -> [Int] {
            switch kind {
            case "group": (0..<6).flatMap { s in (0..<4).filter { $0 / 2 == c / 2 }.map { (n * 6 + s) * 4 + $0 } }
            case "layer": (0..<24).map { n * 24 + $0 }
            default: (0..<6).map { (n * 6 + $0) * 4 + c }
            }
        }
        var worst = 0.0
        for n in 0..<2 {
            for c in 0..<4 {
                let members = partition(n, c).map { values[$0] }
                let mean = members.reduce(0, +) / Double(members.count)
                let variance = members.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(members.count)
                for s in 0..<6 {
                    let i = (n * 6 + s) * 4 + c
                    worst = max(worst, abs(Double(out.floats[i]) - (values[i] - mean) / (variance + 1e-5).squareRoot()))
                }
            }
        }
        #expect(worst < 1e-5)
        #expect(daemon.stop() == 0)
    }

    @Test("SUB input filters by topic prefix; PUB output carries output.topic")
    func subscribeAndPublish() throws {
        let daemon = try DaemonProcess(
            pipelines: pipelineTOML("p", input: "sub", output: "pub", deadLetter: true, inputExtra: #"topics = ["cam"]"#, outputExtra: #"topic = "normalized""#)
        )
        let peers = TestPeers()
        let pub = try peers.socket(.pub, connect: ["ipc://\(daemon.directory.path)/p.in"])
        let sub = try peers.socket(.sub, connect: ["ipc://\(daemon.directory.path)/p.out"], subscribe: [""])
        let x = seededFloats(2 * 2 * 4, seed: 4)
        // Slow joiner: publish until the subscription has reached both sides.
        var first: Frames?
        for _ in 0..<100 where first == nil {
            try pub.sendTensor(key: "lidar1", header: #"{"dtype":"float32","shape":[2,2,4],"seq":0}"#, floats: x)
            try pub.sendTensor(key: "cam1", header: #"{"dtype":"float32","shape":[2,2,4],"seq":1}"#, floats: x)
            try sub.set(ZMQOption.receiveTimeout, 50)
            if let frames = try sub.receiveFrames() {
                first = Frames(key: String(decoding: frames[0], as: UTF8.self), header: try JSONParser.parse(frames[1]), payload: frames[2])
            }
        }
        let out = try #require(first)
        #expect(out.key == "normalized")
        #expect(out.header["seq"] == .number("1"), "lidar1 does not match the topic prefix cam")
        let stats = try daemon.ctl("stats")
        #expect(stats["pipelines"]?["p"]?["rejected"] == .object([]))
        #expect(daemon.stop() == 0)
    }

    @Test("several pipelines at once, each with its own statistics")
    func severalPipelines() throws {
        let daemon = try DaemonProcess(pipelines: pipelineTOML("a", deadLetter: true) + "\n" + pipelineTOML("b", kind: "layer", deadLetter: true))
        let peers = TestPeers()
        for (name, kind) in [("a", "batch"), ("b", "layer")] {
            let push = try peers.socket(.push, connect: ["ipc://\(daemon.directory.path)/\(name).in"])
            let pull = try peers.socket(.pull, connect: ["ipc://\(daemon.directory.path)/\(name).out"])
            try push.sendTensor(key: "k", header: #"{"dtype":"float32","shape":[3,2,5]}"#, floats: seededFloats(30, seed: 9))
            #expect(try pull.receiveTensor().header["norm"]?["kind"] == .string(kind))
        }
        #expect(
            try eventually {
                let stats = try daemon.ctl("stats")
                return stats["pipelines"]?["a"]?["published"] == .number("1") && stats["pipelines"]?["b"]?["published"] == .number("1")
            })
        #expect(daemon.stop() == 0)
    }

    @Test("50 keys sent concurrently: every key's outputs leave in the order its inputs came")
    func orderWithinKey() throws {
        let daemon = try DaemonProcess(pipelines: pipelineTOML("p", deadLetter: true))
        let peers = TestPeers()
        let pull = try peers.socket(.pull, connect: ["ipc://\(daemon.directory.path)/p.out"])
        let producers = try (0..<2).map { _ in try peers.socket(.push, connect: ["ipc://\(daemon.directory.path)/p.in"]) }
        let perKey = 8
        // Each producer sends its keys' batches back to back, so ZeroMQ's fair queuing delivers
        // several batches of one key inside the daemon's in-flight window; sizes vary 80-fold so
        // a batch on the wrong lane would overtake its predecessor.
        let small = seededFloats(2 * 4 * 64, seed: 1)
        let large = seededFloats(160 * 4 * 64, seed: 2)
        for key in 0..<50 {
            for seq in 0..<perKey {
                let big = seq % 2 == 0
                try producers[key % 2].sendTensor(
                    key: "key\(key)", header: #"{"dtype":"float32","shape":[\#(big ? 160 : 2),4,64],"seq":\#(seq)}"#,
                    floats: big ? large : small)
            }
        }
        var last: [String: Int] = [:]
        for _ in 0..<(50 * perKey) {
            let out = try pull.receiveTensor()
            let seq = out.header["seq"]!.intValue!
            #expect(seq == (last[out.key] ?? -1) + 1, "\(out.key): \(seq) after \(last[out.key] ?? -1)")
            #expect(out.header["norm"]?["batches"]?.intValue == seq + 1)
            last[out.key] = seq
        }
        #expect(last.count == 50)
        #expect(daemon.stop() == 0)
    }
}
