import Foundation
import NormDaemon
import NormTestSupport
import Testing
import ZeroMQ

@Suite("normd top")
struct TopTests {
    static let ptyScript = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/top_pty.py").path

    @Test("without a terminal: one plain snapshot naming the pipeline, its rejections and drifting keys, exit 0")
    func plainSnapshot() throws {
        let daemon = try DaemonProcess(pipelines: pipelineTOML(norm: "drift = \"observe\"\ndrift_warmup = 0"))
        let peers = TestPeers()
        let push = try peers.socket(.push, connect: ["ipc://\(daemon.directory.path)/bn.in"])
        let pull = try peers.socket(.pull, connect: ["ipc://\(daemon.directory.path)/bn.out"])
        for i in 0..<3 {
            try push.sendTensor(key: "cam0", header: #"{"dtype":"float32","shape":[4,3,8]}"#, floats: seededFloats(96, seed: UInt64(i)))
            _ = try pull.receiveTensor()
        }
        try push.send(frames: [Array("cam0".utf8), Array("{bad".utf8), [0]])
        #expect(eventually { (try? daemon.ctl("stats")["pipelines"]?["bn"]?["rejected"]?["header"]?.intValue) == 1 })
        let top = try runNormd(["top", "--socket", daemon.socketPath, "--interval", "0.2"])
        #expect(top.status == 0, "\(top)")
        #expect(top.stdout.contains("PIPELINE") && top.stdout.contains("\nbn "))
        #expect(top.stdout.contains("rejected: header 1"))
        #expect(top.stdout.contains("drift (observe)") && top.stdout.contains("cam0"))
        #expect(!top.stdout.contains("\u{1B}["), "no terminal control sequences without a terminal")
        #expect(daemon.stop() == 0)
    }

    @Test("a socket nobody answers on: a message and status 2")
    func unreachable() throws {
        let top = try runNormd(["top", "--socket", "/nonexistent/normd.sock"])
        #expect(top.status == 2 && top.stderr.contains("normd top:"), "\(top)")
    }

    @Test("on a terminal: live screens, s re-sorts, and q, SIGINT or SIGTERM each give the terminal back", arguments: ["q", "SIGINT", "SIGTERM"])
    func terminal(how: String) throws {
        let daemon = try DaemonProcess(pipelines: pipelineTOML(norm: "drift = \"alarm\""))
        let result = try runProcess("/usr/bin/env", ["python3", Self.ptyScript, DaemonProcess.binary, daemon.socketPath, "bn", how])
        let status = ["q": 0, "SIGINT": 130, "SIGTERM": 143][how]!
        #expect(result.status == 0 && result.stdout.contains("ok \(status)"), "\(result)")
        #expect(daemon.stop() == 0)
    }
}
