import Foundation
import NormTestSupport
import Testing

@Suite("Signals while the daemon starts")
struct StartupSignalTests {
    @Test("SIGHUP while the daemon is still starting (here: waiting for its NATS server's first answer) does not end it; it reloads once started")
    func hangupWhileStarting() throws {
        let server = try NATSServer()
        defer { server.stop() }
        // Stopped, the server's connections are taken by the kernel and never answered: the
        // daemon waits inside its start (libnats gives the answer 2 s).
        server.signal(SIGSTOP)
        var stopped = true
        defer { if stopped { server.signal(SIGCONT) } }
        let daemon = try clusterDaemon(server, waitUntilReady: false)
        #expect(eventually(timeout: 20) { Self.established(toPort: server.port) }, "the daemon never connected")
        daemon.signal(SIGHUP)
        server.signal(SIGCONT)
        stopped = false
        try daemon.waitUntilReady()
        #expect(eventually(timeout: 20) { daemon.log.contains("SIGHUP while starting: reloading") && daemon.log.contains("msg=reloaded") }, "\(daemon.log)")
        #expect(try daemon.ctl("stats")["pipelines"]?["p"] != nil)
        #expect(daemon.stop() == 0)
    }

    /// Whether a TCP connection to `port` on this machine is established (the kernel's table).
    static func established(toPort port: Int) -> Bool {
        let suffix = String(format: ":%04X", port)
        for file in ["/proc/net/tcp", "/proc/net/tcp6"] {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { continue }
            for line in text.split(separator: "\n").dropFirst() {
                let fields = line.split(separator: " ")
                if fields.count > 3 && fields[2].hasSuffix(suffix) && fields[3] == "01" { return true }
            }
        }
        return false
    }
}
