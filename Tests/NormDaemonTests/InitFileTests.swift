import Foundation
import NormCore
import NormFormats
import NormTestSupport
import Testing

@testable import NormDaemon

@Suite("init files: what seeds the keys, and what is refused")
struct InitFileTests {
    static func load(_ tensors: [ExactString: SafeTensors.Tensor], kind: NormKind = .batch, affine: Bool = true) throws(DaemonError) -> InitFile {
        let path = TestFolders.make("init").appendingPathComponent("init.safetensors").path
        #expect(FileManager.default.createFile(atPath: path, contents: Data(SafeTensors(metadata: [:], tensors: tensors).encoded())))
        var norm = NormConfiguration()
        (norm.kind, norm.channels, norm.affine) = (kind, 3, affine)
        return try InitFile.load(path: path, norm: norm)
    }

    static let statistics: [ExactString: SafeTensors.Tensor] = [
        "running_mean": .float64([0.5, 0, -1]), "running_var": .float64([2, 1, 3]), "num_batches_tracked": .int64(7),
    ]

    @Test("running statistics, weight and bias, or both seed every key")
    func seeds() throws {
        let loaded = try Self.load(Self.statistics)
        #expect(loaded.statistics == RunningStatistics(mean: [0.5, 0, -1], variance: [2, 1, 3], batchesTracked: 7) && loaded.affine == nil)
        let affine = try Self.load(["weight": .float32([1, 2, 3]), "bias": .float32([0, 0, 1])], kind: .group)
        #expect(affine.affine == Affine(weight: [1, 2, 3], bias: [0, 0, 1]) && affine.statistics == nil)
    }

    @Test(
        "a file that would seed nothing, or half of a pair, or what the pipeline cannot use, is refused with the reason",
        arguments: [
            ([:], "holds none of weight and bias, running_mean and running_var"),
            (["num_batches_tracked": .int64(3)], "num_batches_tracked without running_mean and running_var"),
            (["running_mean": .float64([0, 0, 0])], "running_mean and running_var come together"),
            (["weight": .float32([1, 1, 1])], "weight and bias come together"),
            (["running_mean": .float64([0, 0]), "running_var": .float64([1, 1])], "running_mean has shape [2], expected [3]"),
            (["bn.running_mean": .float64([0, 0, 0]), "bn.running_var": .float64([1, 1, 1])], "unexpected tensor \"bn.running_mean\""),
        ] as [([ExactString: SafeTensors.Tensor], String)])
    func refused(tensors: [ExactString: SafeTensors.Tensor], reason: String) {
        #expect {
            _ = try Self.load(tensors)
        } throws: { error in
            (error as? DaemonError)?.message.contains(reason) == true
        }
    }

    @Test("statistics for a kind that keeps none, and weights with affine = false, are refused")
    func notForThisPipeline() {
        #expect(throws: DaemonError.self) { _ = try Self.load(Self.statistics, kind: .layer) }
        #expect(throws: DaemonError.self) { _ = try Self.load(["weight": .float32([1, 1, 1]), "bias": .float32([0, 0, 0])], affine: false) }
    }

    @Test("a device, random bytes or a text file is refused after its first 8 bytes, not read up to the 1 GiB limit")
    func notSafetensorsAtOnce() throws {
        var norm = NormConfiguration()
        (norm.kind, norm.channels) = (.batch, 3)
        let folder = TestFolders.make("init-prefix")
        let toml = folder.appendingPathComponent("normd.toml").path
        #expect(FileManager.default.createFile(atPath: toml, contents: Data("[daemon]\nlog_level = \"info\"\n".utf8)))
        let short = folder.appendingPathComponent("short").path
        #expect(FileManager.default.createFile(atPath: short, contents: Data([2, 0, 0])))
        let tomlLength = Data("[daemon]".utf8).withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        for (path, why) in [
            ("/dev/zero", "its first 8 bytes give a header length of 0, outside 2...100000000"),
            (toml, "its first 8 bytes give a header length of \(tomlLength), outside 2...100000000"),
            (short, "shorter than its 8-byte header length"),
        ] {
            let error = #expect(throws: DaemonError.self) { _ = try InitFile.load(path: path, norm: norm) }
            #expect(error?.message == "init file \(path) is not safetensors: \(why)")
        }
    }

    @Test("a good init file read through a pipe loads: the header check reads 8 bytes, then the rest")
    func throughAPipe() throws {
        var ends: [Int32] = [0, 0]
        #expect(pipe(&ends) == 0)
        let bytes = SafeTensors(metadata: [:], tensors: Self.statistics).encoded()
        #expect(bytes.count < 4096)  // fits the pipe's buffer, so one write before the read
        #expect(bytes.withUnsafeBytes { write(ends[1], $0.baseAddress, $0.count) } == bytes.count)
        close(ends[1])
        defer { close(ends[0]) }
        var norm = NormConfiguration()
        (norm.kind, norm.channels) = (.batch, 3)
        let loaded = try InitFile.load(path: "/dev/fd/\(ends[0])", norm: norm)
        #expect(loaded.statistics == RunningStatistics(mean: [0.5, 0, -1], variance: [2, 1, 3], batchesTracked: 7))
    }
}
