import Foundation

/// systemd's notification protocol: datagrams to the socket in `$NOTIFY_SOCKET`. Does nothing
/// when the variable is unset (not under systemd, or not `Type=notify`).
///
/// The datagram socket is opened once, at start, and kept: a socket opened per message found no
/// descriptor while peers held them all, the watchdog pings stopped, and systemd killed a daemon
/// that was serving (SIGABRT, with no final checkpoint).
public final class SystemdNotifier: Sendable {
    let path: String?
    /// The datagram socket the messages go out on; -1 without `$NOTIFY_SOCKET` (or when none could
    /// be opened at start: each message then tries its own). Closed in deinit.
    private let fd: Int32
    /// Half of `$WATCHDOG_USEC`, when systemd asked for watchdog pings for this process.
    public let watchdogInterval: Double?

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        let socket = environment["NOTIFY_SOCKET"].flatMap { $0.isEmpty ? nil : $0 }
        path = socket
        fd = socket == nil ? -1 : Self.openSocket()
        var interval: Double?
        if let usec = environment["WATCHDOG_USEC"].flatMap(UInt64.init), usec > 0 {
            let pid = environment["WATCHDOG_PID"].flatMap(Int32.init)
            if pid == nil || pid == getpid() { interval = Double(usec) / 2e6 }
        }
        watchdogInterval = interval
    }

    public var isActive: Bool { path != nil }

    public func ready(status: String? = nil) { send(["READY=1"] + (status.map { ["STATUS=\($0)"] } ?? [])) }
    public func reloading() {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let usec = UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1000
        send(["RELOADING=1", "MONOTONIC_USEC=\(usec)"])
    }
    public func stopping() { send(["STOPPING=1"]) }
    public func status(_ text: String) { send(["STATUS=\(text)"]) }
    public func watchdog() { send(["WATCHDOG=1"]) }

    deinit {
        if fd >= 0 { close(fd) }
    }

    static func openSocket() -> Int32 { socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) }

    /// Sends on the kept socket (sendto on a datagram socket is safe from any thread).
    func send(_ lines: [String]) {
        guard let path else { return }
        let own = fd >= 0 ? -1 : Self.openSocket()
        let fd = fd >= 0 ? fd : own
        guard fd >= 0 else { return }
        defer { if own >= 0 { close(own) } }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var pathBytes = Array(path.utf8)
        if pathBytes.first == UInt8(ascii: "@") { pathBytes[0] = 0 }  // abstract namespace
        guard pathBytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: pathBytes) }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + pathBytes.count)
        let message = Array(lines.joined(separator: "\n").utf8)
        _ = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                message.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, 0, address, length) }
            }
        }
    }
}
