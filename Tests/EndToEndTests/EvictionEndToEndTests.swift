import Foundation
import NormDaemon
import NormFormats
import NormTestSupport
import Testing
import ZeroMQ

@Suite("max_keys with key_policy = evict_lru")
struct EvictionEndToEndTests {
    @Test("the least recently used key is written to the state folder as it leaves memory and read back when it returns")
    func evictAndReturn() throws {
        let pipelineText = pipelineTOML("lru", norm: "channels = 2\nmax_keys = 2\nkey_policy = \"evict_lru\"")
        let daemon = try DaemonProcess(pipelines: pipelineText)
        let peers = TestPeers()
        let push = try peers.socket(.push, connect: ["ipc://\(daemon.directory.path)/lru.in"])
        let pull = try peers.socket(.pull, connect: ["ipc://\(daemon.directory.path)/lru.out"])
        func send(_ key: String, seed: UInt64) throws -> Int? {
            try push.sendTensor(key: key, header: #"{"dtype":"float32","shape":[4,2,3]}"#, floats: seededFloats(24, seed: seed, mean: 1, std: 2))
            return try pull.receiveTensor().header["norm"]?["batches"]?.intValue
        }
        #expect(try send("a", seed: 1) == 1)
        #expect(try send("a", seed: 2) == 2)
        #expect(try send("b", seed: 3) == 1)
        #expect(try send("c", seed: 4) == 1)  // "a" is the least recently used: out it goes
        let keys = try daemon.ctl("show", "lru")["keys"]?.objectValue?.map(\.0)
        #expect(keys == ["b", "c"])
        #expect(try send("a", seed: 5) == 3, "the returning key did not continue from its saved statistics")
        #expect(try send("d", seed: 6) == 1)  // "b" leaves memory now, with no checkpoint after it
        // Evicted keys were written before they left memory: a kill -9 now, with no checkpoint
        // ever written, loses none of them ("a" and "d" lived only in memory since their last
        // checkpoint, which is what a kill -9 may take).
        daemon.signal(SIGKILL)
        daemon.process.waitUntilExit()
        #expect(!FileManager.default.fileExists(atPath: "\(daemon.stateDir)/lru.safetensors"))
        let restarted = try DaemonProcess(pipelines: pipelineText, directory: daemon.directory)
        #expect(try restarted.ctl("show", "lru")["keys"]?.objectValue?.map(\.0) == ["b", "c"])
        #expect(try restarted.ctl("show", "lru", "b")["keys"]?["b"]?["num_batches_tracked"]?.intValue == 1)
        #expect(try restarted.ctl("show", "lru", "c")["keys"]?["c"]?["num_batches_tracked"]?.intValue == 1)
        #expect(try send("e", seed: 7) == 1)  // "b" goes back to the archive
        _ = try restarted.ctl("checkpoint")
        let file = try SafeTensors.decode(Array(try Data(contentsOf: URL(fileURLWithPath: "\(daemon.stateDir)/lru.safetensors"))))
        #expect(file.tensors["b.num_batches_tracked"]?.int64Scalar == 1, "an archived key is in the state file after a checkpoint")
        #expect(file.tensors["e.num_batches_tracked"]?.int64Scalar == 1)
        #expect(try restarted.ctl("stats")["pipelines"]?["lru"]?["rejected"] == .object([]))
        #expect(restarted.stop() == 0)
    }
}
