import Foundation

/// The exclusive `flock` on `<state_dir>/normd.lock` that makes one daemon the only user of a
/// state folder (and so of its configuration's endpoints). Taken before any socket is bound or
/// any state read; held until this object goes away (the kernel drops it if the process dies).
final class InstanceLock: Sendable {
    let path: String
    private let fd: Int32

    init(directory: String) throws(DaemonError) {
        path = "\(directory)/normd.lock"
        let fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw DaemonError(.state, "cannot open the lock file \(path)", errno: errno) }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let code = errno
            let holder = Self.readPID(fd)
            close(fd)
            guard code == EWOULDBLOCK else { throw DaemonError(.state, "cannot lock \(path)", errno: code) }
            throw DaemonError(
                .alreadyRunning,
                "another normd (pid \(holder.map(String.init) ?? "unknown")) already runs on the state folder \(directory) "
                    + "(it holds \(path)); stop it first, or give this instance its own state_dir")
        }
        let text = "\(getpid())\n"
        ftruncate(fd, 0)
        _ = text.withCString { pwrite(fd, $0, strlen($0), 0) }
        self.fd = fd
    }

    private static func readPID(_ fd: Int32) -> Int32? {
        var buffer = [UInt8](repeating: 0, count: 32)
        let n = pread(fd, &buffer, buffer.count, 0)
        guard n > 0 else { return nil }
        return Int32(String(decoding: buffer[..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
    }

    deinit { close(fd) }
}
