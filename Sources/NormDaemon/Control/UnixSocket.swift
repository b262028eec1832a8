import Foundation

/// The raw socket calls of the control socket, in one place; errno is read at once.
public enum UnixSocket {
    public struct Credentials: Sendable {
        public let pid: Int32
        public let uid: uid_t
        public let gid: gid_t
    }

    static func address(_ path: String) throws(DaemonError) -> sockaddr_un {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw DaemonError(.control, "control socket path is too long: \(path)")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        return address
    }

    static func withSockaddr<R>(_ address: inout sockaddr_un, _ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
    }

    /// Binds and listens at `path` with mode 0660, given to `group` when one is named. A stale
    /// socket file is replaced; a live one (another daemon answering there) is an error.
    static func listen(path: String, group: (id: gid_t, name: String)? = nil) throws(DaemonError) -> Int32 {
        let directory = (path as NSString).deletingLastPathComponent
        // 0755 when created: control_group members must reach the socket (itself 0660) through it.
        if !directory.isEmpty { try PrivateDirectory.ensure(directory, purpose: "control socket's folder", mode: 0o755) }
        var address = try address(path)
        if let other = nonSocket(at: path) {
            throw DaemonError(.control, "control_socket \(path) is \(other), not a socket: normd replaces only a stale socket there")
        }
        if socketInode(at: path) != nil {
            if isListening(path: path) {
                throw DaemonError(.control, "another process answers on the control socket \(path)")
            }
            unlink(path)
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw DaemonError(.control, "socket failed", errno: errno) }
        // No umask around bind: it is process-wide, and a thread creating a folder meanwhile would
        // get it without execute bits. Until the chmod below the socket has the umask's mode; a
        // peer that connects then is still checked by its credentials before it is answered.
        let bound = withSockaddr(&address) { bind(fd, $0, $1) }
        let bindErrno = errno
        guard bound == 0 else {
            close(fd)
            throw DaemonError(.control, "cannot bind the control socket \(path)", errno: bindErrno)
        }
        chmod(path, 0o660)
        if let group, chown(path, uid_t.max, group.id) != 0 {
            let code = errno
            close(fd)
            unlink(path)
            throw DaemonError(
                .control,
                "cannot give the control socket \(path) to control_group \"\(group.name)\" "
                    + "(normd's user must be a member, e.g. SupplementaryGroups=\(group.name) in its unit)", errno: code)
        }
        guard Glibc.listen(fd, 16) == 0 else {
            let code = errno
            close(fd)
            throw DaemonError(.control, "cannot listen on \(path)", errno: code)
        }
        return fd
    }

    /// What is at `path` when it is something other than a socket ("a regular file", "a folder",
    /// ...), else nil (a socket, or nothing). A symbolic link is not followed: it is what is there.
    static func nonSocket(at path: String) -> String? {
        var info = stat()
        guard lstat(path, &info) == 0 else { return nil }
        switch info.st_mode & S_IFMT {
        case S_IFSOCK: return nil
        case S_IFREG: return "a regular file"
        case S_IFDIR: return "a folder"
        case S_IFLNK: return "a symbolic link"
        case S_IFIFO: return "a named pipe"
        default: return "a device"
        }
    }

    /// The inode of the socket at `path`, or nil when none is there.
    static func socketInode(at path: String) -> ino_t? {
        var info = stat()
        guard lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFSOCK else { return nil }
        return info.st_ino
    }

    /// Whether a process accepts connections on the Unix socket at `path` (a connect probe).
    static func isListening(path: String) -> Bool {
        guard let fd = try? connect(path: path) else { return false }
        close(fd)
        return true
    }

    /// Connects to a control socket; the caller closes the descriptor.
    public static func connect(path: String) throws(DaemonError) -> Int32 {
        var address = try address(path)
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw DaemonError(.control, "socket failed", errno: errno) }
        let result = withSockaddr(&address) { Glibc.connect(fd, $0, $1) }
        guard result == 0 else {
            let code = errno
            close(fd)
            throw DaemonError(.control, "cannot connect to \(path)", errno: code)
        }
        return fd
    }

    static func peerCredentials(_ fd: Int32) -> Credentials? {
        // struct ucred { pid_t pid; uid_t uid; gid_t gid; } — declared here since Glibc's
        // module does not export it without _GNU_SOURCE.
        var raw: (Int32, UInt32, UInt32) = (0, 0, 0)
        var length = socklen_t(MemoryLayout.size(ofValue: raw))
        let soPeerCred: Int32 = 17
        guard getsockopt(fd, SOL_SOCKET, soPeerCred, &raw, &length) == 0 else { return nil }
        return Credentials(pid: raw.0, uid: raw.1, gid: raw.2)
    }

    /// Why a command line could not be read.
    enum LineError: Error, Equatable {
        /// The deadline passed first.
        case timedOut
        /// The peer closed (or the read failed) before a newline.
        case closed
        /// No newline within the limit.
        case tooLong(limit: Int)
        /// The line is not UTF-8.
        case notUTF8

        /// For the error reply.
        func detail(deadlineSeconds: Double) -> String {
            switch self {
            case .timedOut: "expected one command line ending in a newline within \(Int(deadlineSeconds)) s"
            case .closed: "the connection ended before a newline: a command line ends in \\n"
            case .tooLong(let limit): "the command line is longer than \(limit) bytes"
            case .notUTF8: "the command line is not UTF-8"
            }
        }
    }

    /// Reads up to and excluding the first newline within `limit` bytes, before `deadline`
    /// (uptime nanoseconds) — one deadline for the whole line.
    static func readLine(_ fd: Int32, limit: Int, deadline: UInt64) -> Result<String, LineError> {
        var buffer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 512)
        while true {
            guard waitReadable(fd, deadline: deadline) else { return .failure(.timedOut) }
            let n = read(fd, &chunk, chunk.count)
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return .failure(.closed) }
            let searchFrom = buffer.count
            buffer += chunk[0..<n]
            if let newline = buffer[searchFrom...].firstIndex(of: UInt8(ascii: "\n")) {
                guard newline <= limit else { return .failure(.tooLong(limit: limit)) }
                guard let line = String(validating: buffer[..<newline], as: UTF8.self) else { return .failure(.notUTF8) }
                return .success(line)
            }
            if buffer.count > limit { return .failure(.tooLong(limit: limit)) }
        }
    }

    /// Waits until `fd` is readable; false once `deadline` (uptime nanoseconds) has passed.
    static func waitReadable(_ fd: Int32, deadline: UInt64) -> Bool {
        while true {
            let now = MonotonicClock.nanoseconds()
            guard now < deadline else { return false }
            var item = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&item, 1, Int32(clamping: (deadline - now + 999_999) / 1_000_000))
            if ready > 0 { return true }
            if ready < 0 && errno != EINTR { return true }  // let read() report the error
        }
    }

    /// Reads until the peer closes; nil when `deadline` (uptime nanoseconds) passes first.
    public static func readAll(_ fd: Int32, deadline: UInt64 = .max) -> [UInt8]? {
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            guard waitReadable(fd, deadline: deadline) else { return nil }
            let n = read(fd, &chunk, chunk.count)
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return result }
            result += chunk[0..<n]
        }
    }

    public static func writeAll(_ fd: Int32, _ text: String) {
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            // MSG_NOSIGNAL: a peer that went away is an error here, not a SIGPIPE for the process.
            let n = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return }
            offset += n
        }
    }
}
