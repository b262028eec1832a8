import Foundation
import NormDaemon
import Testing

@Suite("Command-line manners")
struct CommandLineMannersTests {
    @Test("plain normd prints usage and exits 0 without starting a daemon; --version prints the version")
    func usageAndVersion() throws {
        let plain = try runNormd([])
        #expect(plain.status == 0)
        #expect(plain.stdout.contains("USAGE: normd <subcommand>") && plain.stdout.contains("check-config"))
        let version = try runNormd(["--version"])
        #expect(version.status == 0 && version.stdout == "\(BuildInfo.version)\n")
    }

    @Test("normd ctl --help is answered locally, listing the control commands, even with no daemon")
    func ctlHelp() throws {
        let help = try runNormd(["ctl", "--socket", "/nonexistent/normd.sock", "--help"])
        #expect(help.status == 0)
        #expect(help.stdout.contains("USAGE: normd ctl") && help.stdout.contains("reset PIPELINE [KEY]") && help.stdout.contains("--timeout"))
    }

    @Test("a client trickling one byte at a time does not hold up stats; ctl --timeout gives up with status 2")
    func slowClient() throws {
        let daemon = try DaemonProcess(pipelines: minimalPipeline)
        // A client that sends half a command and then nothing: the daemon must answer others meanwhile.
        let slow = try UnixSocket.connect(path: daemon.socketPath)
        defer { close(slow) }
        UnixSocket.writeAll(slow, "st")
        let started = Date()
        let stats = try runNormd(["ctl", "--socket", daemon.socketPath, "--timeout", "1", "stats"])
        #expect(stats.status == 0, "stats was not answered within 1 s beside a stalled client: \(stats.stderr)")
        #expect(Date().timeIntervalSince(started) < 5)
        // The stalled client is cut off by the request deadline with an error, not served forever.
        let cutOff = try #require(UnixSocket.readAll(slow, deadline: DispatchTime.now().uptimeNanoseconds + 20_000_000_000))
        #expect(String(decoding: cutOff, as: UTF8.self).contains("bad_argument"))

        // A listener that never answers: ctl gives up after --timeout with status 2.
        let silent = daemon.directory.appendingPathComponent("silent.sock").path
        let listener = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(listener) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(silent.utf8)) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        #expect(bound == 0 && listen(listener, 4) == 0)
        let timedOut = try runNormd(["ctl", "--socket", silent, "--timeout", "0.5", "stats"])
        #expect(timedOut.status == 2 && timedOut.stderr.contains("within 0.5 s"), "\(timedOut)")
        #expect(daemon.stop() == 0)
    }
}
