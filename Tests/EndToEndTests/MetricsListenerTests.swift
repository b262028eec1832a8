import Foundation
import NormDaemon
import NormTestSupport
import Testing
import ZeroMQ

@Suite("The HTTP metrics listener")
struct MetricsListenerTests {
    @Test("daemon.metrics_listen serves GET /metrics and nothing else")
    func scrape() throws {
        let port = try TestPeers.freeLoopbackPort()
        let daemon = try DaemonProcess(
            pipelines: pipelineTOML(),
            daemon: "metrics_listen = \"127.0.0.1:\(port)\"\nmetrics_key_statistics = true")
        try OperationsEndToEndTests.feed(daemon, TestPeers(), count: 1)
        func get(_ path: String, method: String = "GET", port: Int = port, raw: String? = nil) throws -> String {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(fd) }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard connected == 0 else { throw TestFailure("cannot connect to 127.0.0.1:\(port)") }
            UnixSocket.writeAll(fd, raw ?? "\(method) \(path) HTTP/1.1\r\nHost: localhost\r\n\r\n")
            // Every answer ends with the connection closed; one that stays open fails here instead of hanging.
            guard let answer = UnixSocket.readAll(fd, deadline: DispatchTime.now().uptimeNanoseconds + 5_000_000_000) else {
                throw TestFailure("the listener kept the connection open after answering")
            }
            return String(decoding: answer, as: UTF8.self)
        }
        // The consumer can hold the batch a moment before the daemon's send returns and counts it
        // (and scrapes are shared for a second): wait for the count rather than racing it.
        var metrics = ""
        #expect(
            try eventually(timeout: 30) {
                metrics = try get("/metrics")
                return metrics.contains("normd_published_total{pipeline=\"bn\"} 1")
            })
        #expect(metrics.hasPrefix("HTTP/1.1 200 OK"))
        #expect(metrics.contains("normd_num_batches_tracked{pipeline=\"bn\",key=\"cam0\"} 1"))
        let show = try daemon.ctl("show", "bn", "cam0")["keys"]?["cam0"]?["running_var"]?.arrayValue?.first?.doubleValue
        #expect(metrics.contains("normd_running_var{pipeline=\"bn\",key=\"cam0\",channel=\"0\"} \(show ?? .nan)"))
        #expect(try get("/stats").hasPrefix("HTTP/1.1 404"))
        #expect(try get("/metrics", method: "POST").hasPrefix("HTTP/1.1 405"))
        let head = try get("/metrics", method: "HEAD")
        #expect(head.hasPrefix("HTTP/1.1 200 OK") && head.hasSuffix("\r\n\r\n"), "HEAD answers the headers alone: \(head)")
        #expect(try get("", raw: "NOT HTTP AT ALL\r\n\r\n").hasPrefix("HTTP/1.1 400"))

        // A reload moves the listener at once, and names what only a restart applies.
        let moved = try TestPeers.freeLoopbackPort()
        let config = try String(contentsOfFile: daemon.configPath, encoding: .utf8)
        try config.replacingOccurrences(of: "127.0.0.1:\(port)", with: "127.0.0.1:\(moved)").replacingOccurrences(
            of: "log_level = \"debug\"", with: "log_level = \"info\""
        )
        .write(toFile: daemon.configPath, atomically: true, encoding: .utf8)
        let reload = try daemon.ctl("reload")
        #expect(reload["restart_needed"] == .array([.string("log_level")]))
        #expect(try get("/metrics", port: moved).hasPrefix("HTTP/1.1 200 OK"))
        #expect(throws: TestFailure.self) { try get("/metrics") }
        #expect(daemon.stop() == 0)
    }
}
