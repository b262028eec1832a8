import Foundation
import NormDaemon
import NormFormats
import NormTestSupport
import Testing
import ZeroMQ

@Suite("Bad input: every reason code, its dead letter, and the next good message")
struct RejectionEndToEndTests {
    static let config = """
        [[pipeline]]
        name = "strict"
        [pipeline.input]
        socket = "pull"
        bind = ["ipc://{dir}/in"]
        max_message_bytes = 4096
        [pipeline.output]
        socket = "push"
        bind = ["ipc://{dir}/out"]
        dead_letter = "ipc://{dir}/dead"
        [pipeline.norm]
        kind = "batch"
        channels = 4
        max_keys = 2
        """

    static func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }
    static let good = #"{"dtype":"float32","shape":[2,4,2]}"#
    static let goodPayload = seededFloats(16, seed: 5).withUnsafeBytes { Array($0) }

    /// (reason, frames) in the contract's order; several messages break more than one rule.
    static let cases: [(String, [[UInt8]])] = [
        ("frames", [bytes("k")]),
        ("frames", [bytes("k"), bytes(good), goodPayload, []]),
        ("key", [[UInt8](repeating: 0x61, count: 256), bytes(good), goodPayload]),
        ("key", [[0xFF, 0xFE], bytes(good), goodPayload]),
        ("header", [bytes("k"), [0xFF, 0x7B], goodPayload]),
        ("header", [bytes("k"), bytes("{not json"), goodPayload]),
        ("header", [bytes("k"), bytes("[1,2]"), goodPayload]),
        ("header", [bytes("k"), bytes(String(repeating: "[", count: 40) + String(repeating: "]", count: 40)), goodPayload]),
        ("header", [bytes("k"), bytes(#"{"dtype":"float32","shape":[2,4,2],"seq":-1}"#), goodPayload]),
        ("header", [bytes("k"), bytes(#"{"dtype":"float32","shape":[2,4,2],"seq":18446744073709551616}"#), goodPayload]),
        ("header", [bytes("k"), bytes(#"{"dtype":"float32","shape":[2,4,2],"seq":"7"}"#), goodPayload]),
        ("dtype", [bytes("k"), bytes(#"{"shape":[1]}"#), goodPayload]),
        ("dtype", [bytes("k"), bytes(#"{"dtype":32,"shape":[2,4,2]}"#), goodPayload]),
        ("dtype", [bytes("k"), bytes(#"{"dtype":"int8","shape":[2,4,2]}"#), goodPayload]),
        ("shape", [bytes("k"), bytes(#"{"dtype":"float32"}"#), goodPayload]),
        ("shape", [bytes("k"), bytes(#"{"dtype":"float32","shape":[16]}"#), goodPayload]),
        ("shape", [bytes("k"), bytes(#"{"dtype":"float32","shape":[1,2,3,4,5,6]}"#), goodPayload]),
        ("shape", [bytes("k"), bytes(#"{"dtype":"float32","shape":[2,0,8]}"#), goodPayload]),
        ("shape", [bytes("k"), bytes(#"{"dtype":"float32","shape":[2,4.5,2]}"#), goodPayload]),
        ("shape", [bytes("k"), bytes(#"{"dtype":"float32","shape":[4294967296,4294967296,4294967296]}"#), goodPayload]),
        ("shape", [bytes("k"), bytes(#"{"dtype":"float64","shape":[2,4,1152921504606846976]}"#), goodPayload]),
        ("too_large", [bytes("k"), bytes(#"{"dtype":"float32","shape":[1000,4,1],"layout":"bad"}"#), goodPayload]),
        ("layout", [bytes("k"), bytes(#"{"dtype":"float32","shape":[2,4,2],"layout":"NCWH"}"#), goodPayload]),
        ("layout", [bytes("k"), bytes(#"{"dtype":"float32","shape":[2,4,2],"layout":5}"#), goodPayload]),
        ("channels", [bytes("k"), bytes(#"{"dtype":"float32","shape":[2,3,2]}"#), goodPayload]),
        ("payload_size", [bytes("k"), bytes(good), Array(goodPayload.dropLast(4))]),
        (
            "nonfinite",
            [
                bytes("k"), bytes(good),
                {
                    var p = seededFloats(16, seed: 5)
                    p[3] = .nan
                    return p.withUnsafeBytes { Array($0) }
                }(),
            ]
        ),
        (
            "nonfinite",
            [
                bytes("k"), bytes(good),
                {
                    var p = seededFloats(16, seed: 5)
                    p[9] = -.infinity
                    return p.withUnsafeBytes { Array($0) }
                }(),
            ]
        ),
        ("too_few_values", [bytes("k"), bytes(#"{"dtype":"float32","shape":[1,4]}"#), seededFloats(4, seed: 1).withUnsafeBytes { Array($0) }]),
    ]

    @Test("each bad message is rejected with its reason and dead-lettered; the good one after it passes")
    func everyReason() throws {
        let daemon = try DaemonProcess(pipelines: Self.config)
        let peers = TestPeers()
        let push = try peers.socket(.push, connect: ["ipc://\(daemon.directory.path)/in"])
        let pull = try peers.socket(.pull, connect: ["ipc://\(daemon.directory.path)/out"])
        let dead = try peers.socket(.pull, connect: ["ipc://\(daemon.directory.path)/dead"])
        usleep(100_000)
        var expected: [String: Int] = [:]
        for (index, (reason, frames)) in Self.cases.enumerated() {
            try push.send(frames: frames)
            let letter = try #require(try dead.receiveFrames(), "no dead letter for case \(index) (\(reason))")
            #expect(letter.count == 3)
            let header = try JSONParser.parse(letter[1])
            #expect(header["error"] == .string(reason), "case \(index): \(header.serialized)")
            #expect(header["detail"]?.stringValue?.isEmpty == false)
            #expect(letter[0] == (frames.first ?? []), "case \(index): the key comes back as sent")
            #expect(letter[2] == (frames.count > 1 ? frames[1] : []), "case \(index): the original header comes back")
            expected[reason, default: 0] += 1
            try push.send(frames: [Self.bytes("k"), Self.bytes(Self.good), Self.goodPayload])
            let out = try pull.receiveTensor()
            #expect(out.header["norm"]?["batches"]?.intValue == index + 1, "a rejected batch changed the statistics (case \(index))")
        }
        // max_keys = 2: "k" and "k2" fit, a third key does not.
        try push.send(frames: [Self.bytes("k2"), Self.bytes(Self.good), Self.goodPayload])
        _ = try pull.receiveTensor()
        try push.send(frames: [Self.bytes("k3"), Self.bytes(Self.good), Self.goodPayload])
        let letter = try #require(try dead.receiveFrames())
        #expect(try JSONParser.parse(letter[1])["error"] == .string("max_keys"))
        expected["max_keys"] = 1

        #expect(try eventually { try daemon.ctl("stats")["pipelines"]?["strict"]?["published"]?.intValue == Self.cases.count + 1 })
        let stats = try daemon.ctl("stats")["pipelines"]!["strict"]!
        let rejected = stats["rejected"]!.objectValue!
        #expect(Dictionary(uniqueKeysWithValues: rejected.map { ($0.0, $0.1.intValue!) }) == expected)
        let received = stats["received"]!.intValue!
        let published = stats["published"]!.intValue!
        #expect(received == published + expected.values.reduce(0, +) + stats["dropped"]!.intValue! + stats["in_flight"]!.intValue!)
        #expect(published == Self.cases.count + 1)
        let keys = try daemon.ctl("show", "strict")["keys"]!.objectValue!.map(\.0)
        #expect(keys == ["k", "k2"])
        #expect(daemon.stop() == 0)
        #expect(daemon.log.contains("rejected message"))
    }
}
