import Foundation
import NormCore
import NormDaemon
import NormFormats
import NormTestSupport
import Testing

@Suite("A full disk under evict_lru", .enabled(if: getuid() == 0, "mounts a small tmpfs, which needs root"))
struct FullDiskTests {
    static let pipeline = pipelineTOML("lru", norm: "channels = 2\nmax_keys = 100\nkey_policy = \"evict_lru\"")

    /// Fills the file system holding `folder` to the last byte; returns the filler's path.
    static func fill(_ folder: String) -> String {
        let path = "\(folder)/filler"
        let fd = open(path, O_WRONLY | O_CREAT, 0o600)
        let block = [UInt8](repeating: 0, count: 4096)
        while block.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) > 0 {}
        var byte: UInt8 = 0
        while write(fd, &byte, 1) > 0 {}
        close(fd)
        return path
    }

    @Test("keys that cannot be archived stay in memory and new keys are refused with max_keys; nothing is lost")
    func fullDisk() throws {
        let directory = DaemonProcess.makeDirectory()
        let state = directory.appendingPathComponent("state").path
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
        #expect(try runProcess("/bin/mount", ["-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", state]).status == 0)
        defer { _ = try? runProcess("/bin/umount", ["-l", state]) }

        let daemon = try DaemonProcess(pipelines: Self.pipeline, directory: directory)
        let peers = TestPeers()
        let push = try peers.socket(.push, connect: ["ipc://\(directory.path)/lru.in"])
        let pull = try peers.socket(.pull, connect: ["ipc://\(directory.path)/lru.out"])
        func send(_ key: Int) throws -> Bool {
            try push.sendTensor(
                key: "k\(key)", header: #"{"dtype":"float32","shape":[2,2,4]}"#, floats: seededFloats(16, seed: UInt64(key), mean: Double(key), std: 1))
            return try pull.receiveFrames() != nil
        }
        for key in 0..<100 { #expect(try send(key)) }
        let filler = Self.fill(state)
        // 200 new keys on a full disk: none may push a key out whose state cannot be written.
        for key in 100..<300 {
            try push.sendTensor(key: "k\(key)", header: #"{"dtype":"float32","shape":[2,2,4]}"#, floats: seededFloats(16, seed: UInt64(key)))
        }
        #expect(try eventually(timeout: 30) { try daemon.ctl("stats")["pipelines"]?["lru"]?["rejected"]?["max_keys"]?.intValue == 200 })
        #expect(try daemon.ctl("show", "lru")["keys"]?.objectValue?.count == 100)
        #expect(daemon.log.contains("its state cannot be written"), "the refusal says why")

        // Space again: the same 200 keys now go through, each pushing an older key to the archive.
        unlink(filler)
        for key in 100..<300 { #expect(try send(key)) }
        #expect(try daemon.ctl("stats")["pipelines"]?["lru"]?["rejected"]?["max_keys"]?.intValue == 200)
        #expect(daemon.stop() == 0)

        // Every one of the 300 keys is in the state file with its one batch.
        let file = try SafeTensors.decode(Array(try Data(contentsOf: URL(fileURLWithPath: "\(state)/lru.safetensors"))))
        let tracked = (0..<300).map { file.tensors[ExactString("k\($0).num_batches_tracked")]?.int64Scalar }
        #expect(tracked.allSatisfy { $0 == 1 }, "keys lost: \((0..<300).filter { tracked[$0] != 1 }.map { "k\($0)" })")
    }
}
