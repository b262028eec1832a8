import Foundation
import NormDaemon
import NormTestSupport
import Testing

/// Small batches are normalized on the pipeline's thread when nothing is in flight, larger ones
/// on the key's lane; either way a key's batches come out in the order they came in.
@Suite("Pipeline loop: inline and lane batches")
struct PipelineLoopTests {
    @Test("one key, small (inline) and large (lane) batches interleaved with 32 in flight: published in order, each counted once in the statistics")
    func orderAcrossPaths() async throws {
        let normd = try InProcessDaemon(pipelines: pipelineTOML())
        let push = try normd.peers.socket(.push, connect: [normd.endpoint("bn", "in")])
        let pull = try normd.peers.socket(.pull, connect: [normd.endpoint("bn", "out")])
        let count = 200
        var received = 0
        for seq in 0..<count {
            // [2, 4, 2] float32 is 64 bytes (inline); [64, 4, 128] float32 is 128 KiB (a lane).
            let small = seq % 3 != 2
            let shape = small ? [2, 4, 2] : [64, 4, 128]
            let header = #"{"dtype":"float32","shape":\#(shape),"seq":\#(seq)}"#
            try push.sendTensor(key: "k", header: header, floats: seededFloats(shape.reduce(1, *), seed: UInt64(seq), mean: 1, std: 2))
            // Keep up to 32 batches outstanding, so large ones are still on their lane when small ones arrive.
            while seq + 1 - received > 32 {
                let out = try pull.receiveTensor()
                #expect(out.header["seq"]?.intValue == received)
                #expect(out.header["norm"]?["batches"]?.intValue == received + 1)
                received += 1
            }
        }
        while received < count {
            let out = try pull.receiveTensor()
            #expect(out.header["seq"]?.intValue == received)
            #expect(out.header["norm"]?["batches"]?.intValue == received + 1)
            received += 1
        }
        #expect(try normd.controlJSON("show bn k")["keys"]?["k"]?["num_batches_tracked"]?.intValue == count)
        try await normd.stop()
    }
}
