import Foundation
import NormDaemon
import NormTestSupport
import Testing

@Suite("Idle clients cannot take the daemon's descriptors")
struct DescriptorExhaustionTests {
    /// Opens a loopback TCP connection without waiting for it to be accepted; nil if the test
    /// process itself is out of descriptors.
    static func idleConnection(port: Int) -> Int32? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { return nil }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        return fd
    }

    @Test("with 256 descriptors and 1,000 idle metrics connections, batches, ctl and checkpoints still work")
    func idleMetricsConnections() throws {
        let port = try TestPeers.freeLoopbackPort()
        let daemon = try DaemonProcess(
            pipelines: pipelineTOML(), daemon: "metrics_listen = \"127.0.0.1:\(port)\"",
            descriptorLimit: 256)
        let fdFolder = "/proc/\(daemon.process.processIdentifier)/fd"
        func descriptors() -> Int { (try? FileManager.default.contentsOfDirectory(atPath: fdFolder))?.count ?? 0 }
        let before = descriptors()
        var idle: [Int32] = []
        defer { for fd in idle { close(fd) } }
        for _ in 0..<1000 {
            guard let fd = Self.idleConnection(port: port) else { break }
            idle.append(fd)
        }
        #expect(idle.count == 1000)
        // Let the daemon accept what it will: its listener's slots fill up with idle peers.
        // The kernel completes a few handshakes at a time (the listen backlog); the rest retry. Wait
        // until hundreds were accepted (connected, and then perhaps closed by the daemon's cap).
        func accepted() -> Int {
            var items = idle.map { pollfd(fd: $0, events: Int16(POLLOUT), revents: 0) }
            _ = poll(&items, nfds_t(items.count), 0)
            return items.filter { $0.revents != 0 }.count
        }
        #expect(eventually(timeout: 30) { accepted() >= 900 }, "only \(accepted()) of 1000 connections were accepted")
        #expect(descriptors() >= before + 16, "the daemon keeps some idle connections open")

        // A producer that connects now (new ipc descriptors in libzmq), batches through, control and checkpoints.
        let peers = TestPeers()
        try OperationsEndToEndTests.feed(daemon, peers, count: 3)
        #expect(try OperationsEndToEndTests.runningStats(daemon)?["num_batches_tracked"]?.intValue == 3)
        let files = try daemon.ctl("checkpoint")["files"]?.arrayValue
        #expect(files == [.string("\(daemon.stateDir)/bn.safetensors")])
        let open = descriptors()
        #expect(open < 200, "the daemon holds \(open) descriptors of its 256")
        #expect(daemon.process.isRunning)
        #expect(daemon.stop() == 0)
    }
}
