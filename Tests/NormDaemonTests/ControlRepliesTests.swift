import Foundation
import NormCore
import NormDaemon
import NormFormats
import NormTestSupport
import Testing

/// The control commands against a daemon in this process (pipelines on inproc://).
@Suite("Control replies")
struct ControlRepliesTests {
    static let header = #"{"dtype":"float32","shape":[4,3,8]}"#

    /// Sends `batches` batches of `[4, 3, 8]` on `key` and waits for each output; returns the inputs.
    static func feed(_ normd: InProcessDaemon, key: String, batches: Int, seed: UInt64 = 1) throws -> [[Float]] {
        let push = try normd.peers.socket(.push, connect: [normd.endpoint("bn", "in")])
        let pull = try normd.peers.socket(.pull, connect: [normd.endpoint("bn", "out")])
        var sent: [[Float]] = []
        for i in 0..<batches {
            let x = seededFloats(96, seed: seed + UInt64(i), mean: 2, std: 3)
            try push.sendTensor(key: key, header: header, floats: x)
            _ = try pull.receiveTensor()
            sent.append(x)
        }
        return sent
    }

    @Test("show: running statistics after one batch are PyTorch's momentum update, recomputed here in float64")
    func showAfterOneBatch() async throws {
        let normd = try InProcessDaemon(pipelines: pipelineTOML())
        let x = try Self.feed(normd, key: "cam0", batches: 1)[0]
        let entry = try #require(try normd.controlJSON("show bn cam0")["keys"]?["cam0"])
        #expect(entry["num_batches_tracked"]?.intValue == 1)
        let means = try #require(entry["running_mean"]?.arrayValue).compactMap { $0.doubleValue }
        let variances = try #require(entry["running_var"]?.arrayValue).compactMap { $0.doubleValue }
        for c in 0..<3 {
            let values = (0..<4).flatMap { n in (0..<8).map { Double(x[(n * 3 + c) * 8 + $0]) } }
            let mean = values.reduce(0, +) / Double(values.count)
            let unbiased = values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(values.count - 1)
            #expect(abs(means[c] - 0.1 * mean) < 1e-6)
            #expect(abs(variances[c] - (0.9 + 0.1 * unbiased)) < 1e-5)
        }
        try await normd.stop()
    }

    @Test("stats counts what was received and published; unknown pipelines and keys are errors with their codes")
    func statsAndErrors() async throws {
        let normd = try InProcessDaemon(pipelines: pipelineTOML())
        _ = try Self.feed(normd, key: "cam0", batches: 3)
        #expect(eventually { (try? normd.controlJSON("stats")["pipelines"]?["bn"]?["published"]?.intValue) == 3 })
        let bn = try #require(try normd.controlJSON("stats")["pipelines"]?["bn"])
        #expect(bn["received"]?.intValue == 3 && bn["keys"]?.intValue == 1 && bn["mode"]?.stringValue == "train")
        #expect(try normd.controlJSON("show nosuch")["error"]?.stringValue == "unknown_pipeline")
        #expect(try normd.controlJSON("show bn nosuch")["error"]?.stringValue == "unknown_key")
        #expect(try normd.controlJSON("reset bn nosuch")["error"]?.stringValue == "unknown_key")
        #expect(try normd.controlJSON("dance")["error"]?.stringValue == "unknown_command")
        #expect(try normd.controlJSON("mode bn sideways")["error"]?.stringValue == "bad_argument")
        try await normd.stop()
    }

    @Test("mode and reset change what show reports; checkpoint writes the state file it names")
    func modeResetCheckpoint() async throws {
        let normd = try InProcessDaemon(pipelines: pipelineTOML())
        _ = try Self.feed(normd, key: "cam0", batches: 2)
        #expect(try normd.controlJSON("mode bn eval")["mode"]?.stringValue == "eval")
        #expect(try normd.controlJSON("show bn")["mode"]?.stringValue == "eval")
        let files = try #require(try normd.controlJSON("checkpoint")["files"]?.arrayValue).compactMap { $0.stringValue }
        #expect(files == [normd.directory.appendingPathComponent("state/bn.safetensors").path])
        let saved = try StateFiles.decode(try SafeTensors.decode(Array(try Data(contentsOf: URL(fileURLWithPath: files[0])))))
        #expect(saved.mode == .eval && saved.keys[ExactString("cam0")]?.batchesTracked == 2)
        #expect(try normd.controlJSON("reset bn cam0")["reset"]?.arrayValue == [.string("cam0")])
        let entry = try #require(try normd.controlJSON("show bn cam0")["keys"]?["cam0"])
        #expect(entry["num_batches_tracked"]?.intValue == 0)
        #expect(entry["running_mean"]?.arrayValue?.compactMap(\.doubleValue) == [0, 0, 0])
        try await normd.stop()
    }

    @Test("a periodic checkpoint rewrites only a changed state: a batch, a reset or a mode change each make it write again")
    func periodicSkipsUnchanged() async throws {
        let normd = try InProcessDaemon(pipelines: pipelineTOML())
        let path = normd.directory.appendingPathComponent("state/bn.safetensors").path
        let push = try normd.peers.socket(.push, connect: [normd.endpoint("bn", "in")])
        let pull = try normd.peers.socket(.pull, connect: [normd.endpoint("bn", "out")])
        try push.sendTensor(key: "cam0", header: Self.header, floats: seededFloats(96, seed: 1, mean: 2, std: 3))
        _ = try pull.receiveTensor()
        #expect(try normd.daemon.checkpoint(onlyChanged: true) == [path], "first write")
        #expect(try normd.daemon.checkpoint(onlyChanged: true) == [], "nothing changed")
        try push.sendTensor(key: "cam0", header: Self.header, floats: seededFloats(96, seed: 2, mean: 2, std: 3))
        _ = try pull.receiveTensor()
        #expect(eventually { (try? normd.daemon.checkpoint(onlyChanged: true)) == [path] }, "a batch changes it")
        #expect(try normd.daemon.checkpoint(onlyChanged: true) == [])
        #expect(try normd.controlJSON("reset bn cam0")["reset"] != nil)
        #expect(try normd.daemon.checkpoint(onlyChanged: true) == [path], "a reset changes it")
        #expect(try normd.controlJSON("mode bn eval")["mode"]?.stringValue == "eval")
        #expect(try normd.daemon.checkpoint(onlyChanged: true) == [path], "a mode change changes it")
        let saved = try StateFiles.decode(try SafeTensors.decode(Array(try Data(contentsOf: URL(fileURLWithPath: path)))))
        #expect(saved.mode == .eval && saved.keys[ExactString("cam0")]?.batchesTracked == 0)
        // ctl checkpoint always writes.
        #expect(try normd.controlJSON("checkpoint")["files"]?.arrayValue == [.string(path)])
        try await normd.stop()
    }

    @Test("a graceful stop drains and writes the state once more")
    func stopWritesState() async throws {
        let normd = try InProcessDaemon(pipelines: pipelineTOML())
        _ = try Self.feed(normd, key: "k", batches: 4)
        try await normd.stop()
        let path = normd.directory.appendingPathComponent("state/bn.safetensors").path
        let saved = try StateFiles.decode(try SafeTensors.decode(Array(try Data(contentsOf: URL(fileURLWithPath: path)))))
        #expect(saved.keys[ExactString("k")]?.batchesTracked == 4)
    }
}
