import Foundation
import NormDaemon
import NormFormats
import NormTestSupport
import Testing

@Suite("Idle clients cannot take the daemon's descriptors", .serialized)
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

    /// Connects a Unix stream socket to `path` (queued in the listener's backlog at once);
    /// nil if the test process is out of descriptors.
    static func unixConnection(path: String) -> Int32? {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, byte) in path.utf8.prefix(raw.count - 1).enumerated() { raw[i] = byte }
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else {
            close(fd)
            return nil
        }
        return fd
    }

    /// The process's user and system CPU time, in clock ticks.
    static func cpuTicks(_ pid: Int32) -> Int {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let end = stat.lastIndex(of: ")")
        else { return 0 }
        // After "(comm)": state is field 3; utime and stime are fields 14 and 15.
        let fields = stat[stat.index(after: end)...].split(separator: " ")
        guard fields.count > 12 else { return 0 }
        return (Int(fields[11]) ?? 0) + (Int(fields[12]) ?? 0)
    }

    /// A daemon limited to `limit` descriptors whose pipeline bn also binds its input on TCP.
    static func daemonWithTCPInput(
        limit: Int, directory: URL = DaemonProcess.makeDirectory(), environment: [String: String] = [:]
    ) throws -> (DaemonProcess, port: Int) {
        let port = try TestPeers.freeLoopbackPort()
        let daemon = try DaemonProcess(
            pipelines: pipelineTOML().replacingOccurrences(
                of: #"bind = ["ipc://{dir}/bn.in"]"#, with: #"bind = ["ipc://{dir}/bn.in", "tcp://127.0.0.1:\#(port)"]"#),
            directory: directory, environment: environment, descriptorLimit: limit)
        return (daemon, port)
    }

    static func descriptors(_ daemon: DaemonProcess) -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(daemon.process.processIdentifier)/fd"))?.count ?? 0
    }

    /// Idle TCP connections to `port` until the daemon holds all `limit` of its descriptors
    /// (libzmq accepts them; a handshake has 30 s); the connections, for the caller to close.
    static func exhaust(_ daemon: DaemonProcess, port: Int, limit: Int) -> [Int32] {
        var idle: [Int32] = []
        for _ in 0..<(limit + 64) {
            guard let fd = Self.idleConnection(port: port) else { break }
            idle.append(fd)
        }
        #expect(eventually { descriptors(daemon) >= limit }, "the daemon holds \(descriptors(daemon)) descriptors of its \(limit)")
        return idle
    }

    @Test("a peer holding every descriptor over TCP cannot crash the daemon at the next ipc:// connection; batches flow once it lets go")
    func ipcConnectionWhileExhausted() throws {
        let limit = 160
        let (daemon, port) = try Self.daemonWithTCPInput(limit: limit)
        let pid = daemon.process.processIdentifier
        let before = Self.descriptors(daemon)
        var idle = Self.exhaust(daemon, port: port, limit: limit)
        defer { for fd in idle { close(fd) } }

        // A connection to the output's ipc:// endpoint now: libzmq's accept fails with EMFILE,
        // which it asserted against (abort); now it leaves the connection waiting and tries
        // again on each turn of its I/O thread. 50 ms of the daemon's CPU is thousands of turns.
        let ipc = try #require(Self.unixConnection(path: "\(daemon.directory.path)/bn.out"))
        defer { close(ipc) }
        let ticks = Self.cpuTicks(pid)
        #expect(eventually { !daemon.process.isRunning || Self.cpuTicks(pid) >= ticks + 5 })
        try #require(daemon.process.isRunning, "\(daemon.log)")

        for fd in idle { close(fd) }
        idle = []
        #expect(eventually { Self.descriptors(daemon) < before + 16 }, "the daemon still holds \(Self.descriptors(daemon)) descriptors")
        let peers = TestPeers()
        let push = try peers.socket(.push, connect: ["ipc://\(daemon.directory.path)/bn.in"])
        let pull = try peers.socket(.pull, connect: ["ipc://\(daemon.directory.path)/bn.out"])
        for i in 0..<2 { try push.sendTensor(key: "cam0", header: #"{"dtype":"float32","shape":[4,3,8]}"#, floats: seededFloats(96, seed: UInt64(i))) }
        for _ in 0..<2 { #expect(try pull.receiveTensor().key == "cam0") }
        // Counted just after the send returns, so the consumer can be a moment ahead of stats.
        #expect(eventually { (try? daemon.ctl("stats")["pipelines"]?["bn"]?["published"]?.intValue) == 2 })
        #expect(daemon.stop() == 0)
    }

    @Test("SIGTERM while a peer holds every descriptor: the state is written as libzmq lets the connections go, not lost")
    func shutdownWhileExhausted() throws {
        let limit = 160
        let (daemon, port) = try Self.daemonWithTCPInput(limit: limit)
        try OperationsEndToEndTests.feed(daemon, TestPeers(), count: 3)
        let idle = Self.exhaust(daemon, port: port, limit: limit)
        defer { for fd in idle { close(fd) } }
        #expect(daemon.stop() == 0)
        #expect(daemon.log.contains("state written"), "\(daemon.log)")
        let file = try SafeTensors.decode(Array(try Data(contentsOf: URL(fileURLWithPath: "\(daemon.stateDir)/bn.safetensors"))))
        #expect(file.tensors["cam0.num_batches_tracked"]?.int64Scalar == 3)
    }

    @Test("watchdog pings go on while a peer holds every descriptor, so systemd does not kill a daemon that is serving")
    func watchdogWhileExhausted() throws {
        let limit = 160
        let directory = DaemonProcess.makeDirectory()
        let listener = try NotifyListener(path: directory.appendingPathComponent("notify.sock").path)
        let (daemon, port) = try Self.daemonWithTCPInput(
            limit: limit, directory: directory, environment: ["NOTIFY_SOCKET": listener.path, "WATCHDOG_USEC": "400000"])
        _ = try listener.next(containing: "READY=1")
        let idle = Self.exhaust(daemon, port: port, limit: limit)
        defer { for fd in idle { close(fd) } }
        // A ping every 0.2 s. What was queued before is dropped; one ping may have been on its way.
        listener.drain()
        for _ in 0..<3 { #expect(try listener.next(containing: "WATCHDOG=1") == "WATCHDOG=1") }
        #expect(daemon.stop() == 0)
    }

    @Test("the soft descriptor limit is raised to the hard one at start, as systemd asks of services without select(2)")
    func softLimitRaised() throws {
        let daemon = try DaemonProcess(pipelines: pipelineTOML(), softDescriptorLimit: 200)
        let limits = try String(contentsOfFile: "/proc/\(daemon.process.processIdentifier)/limits", encoding: .utf8)
        let line = try #require(limits.split(separator: "\n").first { $0.hasPrefix("Max open files") })
        let values = line.split(separator: " ", omittingEmptySubsequences: true).dropFirst(3).prefix(2).map(String.init)
        #expect(values.count == 2 && values[0] == values[1] && values[0] != "200", "\(line)")
        #expect(daemon.log.contains("descriptor limit raised to the hard limit"), "\(daemon.log)")
        #expect(daemon.stop() == 0)
    }
}
