import Foundation
import NormCore
import NormDaemon
import NormFormats
import NormTestSupport
import Testing

@Suite("A key is its bytes")
struct KeyBytesTests {
    @Test("NFC and NFD spellings of ñ are two keys with their own exact statistics, in show, stats and the state file")
    func canonicallyEquivalentKeys() throws {
        let daemon = try DaemonProcess(pipelines: pipelineTOML(norm: "channels = 3"))
        let peers = TestPeers()
        let push = try peers.socket(.push, connect: ["ipc://\(daemon.directory.path)/bn.in"])
        let pull = try peers.socket(.pull, connect: ["ipc://\(daemon.directory.path)/bn.out"])
        let nfc = "\u{F1}"
        let nfd = "n\u{303}"
        // By position, not by String: Swift's String would call the two spellings one dictionary key.
        let spellings = [nfc, nfd]
        var sent: [[[Float]]] = [[], []]
        for round in 0..<20 {
            for (i, key) in spellings.enumerated() {
                let x = seededFloats(96, seed: UInt64(round * 2 + i), mean: i == 0 ? 5 : -3, std: i == 0 ? 2 : 0.5)
                sent[i].append(x)
                try push.sendTensor(key: key, header: #"{"dtype":"float32","shape":[4,3,8]}"#, floats: x)
            }
        }
        for _ in 0..<40 { _ = try pull.receiveTensor() }
        let keys = try #require(try daemon.ctl("show", "bn")["keys"]?.objectValue)
        #expect(keys.map { Array($0.0.utf8) } == [[0x6E, 0xCC, 0x83], [0xC3, 0xB1]], "two keys, in byte order")
        for (i, key) in spellings.enumerated() {
            // The running statistics written from the formula in float64, batch after batch.
            var mean = [Double](repeating: 0, count: 3)
            var variance = [Double](repeating: 1, count: 3)
            for x in sent[i] {
                for c in 0..<3 {
                    var values: [Double] = []
                    for n in 0..<4 { for s in 0..<8 { values.append(Double(x[(n * 3 + c) * 8 + s])) } }
                    let m = values.reduce(0, +) / 32
                    let v = values.map { ($0 - m) * ($0 - m) }.reduce(0, +) / 31
                    mean[c] = 0.9 * mean[c] + 0.1 * m
                    variance[c] = 0.9 * variance[c] + 0.1 * v
                }
            }
            let shown = try #require(try daemon.ctl("show", "bn", key)["keys"]?.objectValue)
            #expect(shown.count == 1 && Array(shown[0].0.utf8) == Array(key.utf8), "show of one spelling answers that spelling alone")
            let entry = shown[0].1
            #expect(entry["num_batches_tracked"]?.intValue == 20, "an update was lost or merged")
            let gotMean = entry["running_mean"]?.arrayValue?.compactMap(\.doubleValue) ?? []
            let gotVar = entry["running_var"]?.arrayValue?.compactMap(\.doubleValue) ?? []
            #expect(gotMean.count == 3 && zip(gotMean, mean).allSatisfy { abs($0 - $1) <= 1e-9 * max(1, abs($1)) }, "\(gotMean) vs \(mean)")
            #expect(gotVar.count == 3 && zip(gotVar, variance).allSatisfy { abs($0 - $1) <= 1e-9 * max(1, abs($1)) }, "\(gotVar) vs \(variance)")
        }
        #expect(try daemon.ctl("stats")["pipelines"]?["bn"]?["keys"]?.intValue == 2)
        _ = try daemon.ctl("checkpoint")
        let file = try SafeTensors.decode(Array(try Data(contentsOf: URL(fileURLWithPath: "\(daemon.stateDir)/bn.safetensors"))))
        #expect(file.tensors[ExactString("\(nfc).num_batches_tracked")]?.int64Scalar == 20)
        #expect(file.tensors[ExactString("\(nfd).num_batches_tracked")]?.int64Scalar == 20)
        #expect(daemon.stop() == 0)
        // And both come back from the state file as two keys.
        let again = try DaemonProcess(pipelines: pipelineTOML(norm: "channels = 3"), directory: daemon.directory)
        #expect(try again.ctl("show", "bn")["keys"]?.objectValue?.count == 2)
        #expect(again.stop() == 0)
    }
}
