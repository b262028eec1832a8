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
        #expect(eventually(timeout: 20) { Self.waitingToBeAccepted(port: server.port) }, "the daemon never connected")
        daemon.signal(SIGHUP)
        server.signal(SIGCONT)
        stopped = false
        try daemon.waitUntilReady()
        #expect(eventually(timeout: 20) { daemon.log.contains("SIGHUP while starting: reloading") && daemon.log.contains("msg=reloaded") }, "\(daemon.log)")
        #expect(try daemon.ctl("stats")["pipelines"]?["p"] != nil)
        #expect(daemon.stop() == 0)
    }

    /// Whether the socket listening on `port` holds a connection it has not accepted: the kernel
    /// completed the daemon's connect, and the stopped server never took it. (Read off the listening
    /// sockets, which /proc/net/tcp lists first: established ones further down can be skipped
    /// between two reads while other tests open and close connections.)
    static func waitingToBeAccepted(port: Int) -> Bool {
        let local = String(format: "0100007F:%04X", port)
        let text = (try? String(contentsOfFile: "/proc/net/tcp", encoding: .utf8)) ?? ""
        for line in text.split(separator: "\n").dropFirst() {
            // sl local_address rem_address st tx_queue:rx_queue; 0A is LISTEN, rx_queue its accept queue.
            let fields = line.split(separator: " ")
            guard fields.count > 4, fields[1] == local, fields[3] == "0A", let queue = fields[4].split(separator: ":").last else { continue }
            return (Int(queue, radix: 16) ?? 0) > 0
        }
        return false
    }
}
