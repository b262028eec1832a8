import Foundation
import NormCore
import NormTestSupport
import Testing
import ZeroMQ

/// A batch received over ipc:// (or tcp://) is libzmq's own copy, so the pipeline normalizes it in
/// place and sends the received frame on; over inproc:// the frame may be the peer's memory, so
/// it goes to a pooled buffer. Both must give the same bytes (`BatchProcessorTests` compares the
/// two where the batch is processed, with float32 out too).
@Suite("Pipelines: batches normalized in place")
struct InPlaceTests {
    /// `[4, 8, 64]` in `dtype`, little-endian, from seeded values.
    static func payload(_ dtype: DType, seed: UInt64) -> [UInt8] {
        payloadBytes(seededFloats(4 * 8 * 64, seed: seed, mean: 3, std: 2), dtype)
    }

    @Test("every kind, dtype and layout, train then eval: the in-place pipeline's output is the pooled pipeline's, byte for byte")
    func sameBytes() async throws {
        // Short, for ipc:// paths' 107-byte limit.
        let directory = URL(fileURLWithPath: "/tmp/normd-ip-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        var tables = ""
        for kind in NormKind.allCases {
            // `{dir}` endpoints become inproc:// (pooled); the literal ipc:// ones stay (in place).
            for (name, prefix) in [("ipc_\(kind)", "ipc://\(directory.path)/"), ("inproc_\(kind)", "ipc://{dir}/")] {
                tables += """
                    [[pipeline]]
                    name = "\(name)"
                    [pipeline.input]
                    bind = ["\(prefix)\(name).in"]
                    [pipeline.output]
                    bind = ["\(prefix)\(name).out"]
                    [pipeline.norm]
                    kind = "\(kind.rawValue)"
                    \(kind == .group ? "groups = 4" : "")
                    \(kind == .instance ? "track_running_stats = true" : "")

                    """
            }
        }
        let normd = try InProcessDaemon(pipelines: tables)
        var compared = 0
        for kind in NormKind.allCases {
            let inPlace = (
                push: try normd.peers.socket(.push, connect: ["ipc://\(directory.path)/ipc_\(kind).in"]),
                pull: try normd.peers.socket(.pull, connect: ["ipc://\(directory.path)/ipc_\(kind).out"])
            )
            let pooled = (
                push: try normd.peers.socket(.push, connect: [normd.endpoint("inproc_\(kind)", "in")]),
                pull: try normd.peers.socket(.pull, connect: [normd.endpoint("inproc_\(kind)", "out")])
            )
            var seq: UInt64 = 0
            for mode in ["train", "eval"] where mode == "train" || kind == .batch || kind == .instance {
                if mode == "eval" {
                    for name in ["ipc_\(kind)", "inproc_\(kind)"] { #expect(normd.control("mode \(name) eval").contains("eval")) }
                }
                for dtype in DType.allCases {
                    for layout in ["NCHW", "NHWC"] {
                        seq += 1
                        let header = Array(#"{"dtype":"\#(dtype.rawValue)","shape":[4,8,64],"layout":"\#(layout)","seq":\#(seq)}"#.utf8)
                        let payload = Self.payload(dtype, seed: seq)
                        #expect(payload.count >= 4096, "large enough to be normalized in place")
                        try inPlace.push.send(frames: [Array("k".utf8), header, payload])
                        try pooled.push.send(frames: [Array("k".utf8), header, payload])
                        let a = try inPlace.pull.receiveTensor()
                        let b = try pooled.pull.receiveTensor()
                        #expect(a.header["seq"]?.intValue == Int(seq) && b.header["seq"]?.intValue == Int(seq), "\(kind) \(mode) \(dtype) \(layout)")
                        let differing = zip(a.payload, b.payload).filter { $0 != $1 }.count
                        #expect(a.payload.count == b.payload.count && differing == 0, "\(kind) \(mode) \(dtype) \(layout): \(differing) bytes differ")
                        #expect(a.payload.count == payload.count && a.payload != payload, "\(kind) \(mode) \(dtype) \(layout): normalized")
                        compared += 1
                    }
                }
            }
        }
        #expect(compared == 4 * 2 * 4 + 2 * 4 * 2)
        try await normd.stop()
    }
}
