import Foundation
import Logging
import NormFormats
import ServiceLifecycle
import Synchronization

/// The control socket (docs/control.md): a Unix stream socket, mode 0660; one command
/// line in, one answer out, then close. Peers that are not root, normd's own user or in
/// `control_group` are logged and closed without an answer. Bound when built; as a service it
/// accepts on a thread of its own until the daemon shuts down, then removes the socket.
public final class ControlServer: Service, Sendable {
    public let path: String
    let allowedGroup: gid_t?
    let logger: Logger
    let handler: @Sendable (String) -> String
    private let listener: Int32
    /// The socket this server bound, so that only it is removed at the end, not what replaced it.
    private let boundInode: ino_t?
    private let closed = Atomic<Bool>(false)
    private let stopRequested = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)
    private let connections = DispatchGroup()
    private let active = Atomic<Int>(0)
    private let refusals: RateLimitedLog

    static let maxLineBytes = 4096

    public init(path: String, controlGroup: String, logger: Logger, handler: @escaping @Sendable (String) -> String) throws(DaemonError) {
        self.path = path
        self.logger = logger
        self.handler = handler
        self.refusals = RateLimitedLog(logger: logger, perInterval: 1, intervalSeconds: 10)
        if controlGroup.isEmpty {
            allowedGroup = nil
        } else {
            guard let group = getgrnam(controlGroup) else { throw DaemonError(.control, "control_group \"\(controlGroup)\" does not exist") }
            allowedGroup = group.pointee.gr_gid
        }
        listener = try UnixSocket.listen(path: path, group: allowedGroup.map { ($0, controlGroup) })
        boundInode = UnixSocket.socketInode(at: path)
        let folder = (path as NSString).deletingLastPathComponent
        var info = stat()
        if allowedGroup != nil, stat(folder.isEmpty ? "." : folder, &info) == 0, info.st_mode & 0o011 == 0 {
            logger.warning(
                "control_group \(controlGroup) cannot reach \(path): its folder is mode \(String(info.st_mode & 0o777, radix: 8)); chmod 0755 \(folder)")
        }
    }

    public func run() async {
        await ThreadService(
            name: "normd.control",
            loop: { [self] in
                serve()
                // Commands still running finish before the service ends: the handler may use the daemon.
                connections.wait()
                closeListener()
            }, stop: { [self] in stopRequested.store(true, ordering: .relaxed) }
        ).run()
    }

    /// Closes the listening socket and removes its path, once (also when the server never ran).
    func closeListener() {
        guard !closed.exchange(true, ordering: .relaxed) else { return }
        close(listener)
        if let boundInode, UnixSocket.socketInode(at: path) == boundInode { unlink(path) }
    }

    deinit { closeListener() }

    /// Connections served at once; more are closed at once (and logged, rate-limited).
    static let maxConnections = 16
    /// One deadline for reading a whole command line, however slowly it trickles in.
    static let requestDeadlineSeconds = 5.0

    private func serve() {
        while !stopRequested.load(ordering: .relaxed) {
            var item = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            guard poll(&item, 1, 100) > 0 else { continue }
            let client = accept(listener, nil, nil)
            guard client >= 0 else {
                let code = errno
                // Out of descriptors: the pending connection stays in the backlog, so poll would
                // report it again at once. Wait instead of spinning, and say so.
                if code == EMFILE || code == ENFILE || code == ENOBUFS || code == ENOMEM {
                    refusals.log("control socket cannot accept: \(String(cString: strerror(code))); retrying in 100 ms")
                    usleep(100_000)
                }
                continue
            }
            guard active.wrappingAdd(1, ordering: .relaxed).newValue <= Self.maxConnections else {
                active.wrappingSubtract(1, ordering: .relaxed)
                refusals.log("control socket busy: \(Self.maxConnections) connections already served; closing a new one")
                close(client)
                continue
            }
            connections.enter()
            DispatchQueue.global().async { [self] in
                handle(client)
                close(client)
                active.wrappingSubtract(1, ordering: .relaxed)
                connections.leave()
            }
        }
    }

    private func handle(_ client: Int32) {
        guard let peer = UnixSocket.peerCredentials(client) else { return }
        guard isAllowed(peer) else {
            logger.warning("control connection refused", metadata: ["uid": "\(peer.uid)", "gid": "\(peer.gid)", "pid": "\(peer.pid)"])
            return
        }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(client, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let deadline = MonotonicClock.deadline(after: Self.requestDeadlineSeconds)
        let line: String
        switch UnixSocket.readLine(client, limit: Self.maxLineBytes, deadline: deadline) {
        case .success(let read): line = read
        case .failure(let error):
            UnixSocket.writeAll(
                client,
                JSONValue.object([
                    ("error", .string("bad_argument")), ("detail", .string(error.detail(deadlineSeconds: Self.requestDeadlineSeconds))),
                ]).serialized + "\n")
            return
        }
        let reply = handler(line)
        UnixSocket.writeAll(client, reply)
        MemoryRelease.afterReply(ofSize: reply.utf8.count)
    }

    func isAllowed(_ peer: UnixSocket.Credentials) -> Bool {
        if peer.uid == 0 || peer.uid == getuid() { return true }
        guard let allowedGroup else { return false }
        if peer.gid == allowedGroup { return true }
        guard let user = getpwuid(peer.uid), let group = getgrgid(allowedGroup) else { return false }
        let name = String(cString: user.pointee.pw_name)
        var member = group.pointee.gr_mem
        while let entry = member?.pointee {
            if String(cString: entry) == name { return true }
            member = member?.advanced(by: 1)
        }
        return false
    }
}
