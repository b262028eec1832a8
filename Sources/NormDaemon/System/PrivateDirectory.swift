import Foundation

/// A folder normd writes into (the state folder, the control socket's folder): created 0700 when
/// missing, and refused when another user owns it or others can write it, as chrony and OpenSSH
/// refuse theirs — whoever can write there can plant a link that normd would follow, or a socket
/// that operators would talk to instead.
enum PrivateDirectory {
    /// Creates `path` (and its parents) with `mode` when missing; throws when it is not safe to write into.
    static func ensure(_ path: String, purpose: String, mode: Int = 0o700) throws(DaemonError) {
        var info = stat()
        if stat(path, &info) != 0 {
            let code = errno
            guard code == ENOENT else { throw DaemonError(.state, "cannot inspect the \(purpose) \(path)", errno: code) }
            do {
                try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: mode])
            } catch {
                throw DaemonError(.state, "cannot create the \(purpose) \(path): \(error.localizedDescription)")
            }
            guard stat(path, &info) == 0 else { throw DaemonError(.state, "cannot inspect the \(purpose) \(path)", errno: errno) }
        }
        if let problem = problem(info, path: path, purpose: purpose) { throw DaemonError(.state, problem) }
    }

    /// Why a folder with this `stat` is unsafe, with how to fix it; nil when it is safe.
    static func problem(_ info: stat, path: String, purpose: String, user: uid_t = geteuid()) -> String? {
        guard info.st_mode & S_IFMT == S_IFDIR else { return "the \(purpose) \(path) is not a folder" }
        if info.st_uid != user && info.st_uid != 0 {
            return "the \(purpose) \(path) belongs to uid \(info.st_uid), not to normd's user (uid \(user)) or root; "
                + "give it to normd's user (chown \(user) \(path)) or choose a folder of normd's own"
        }
        let mode = info.st_mode & 0o7777
        if mode & 0o022 != 0 {
            return "the \(purpose) \(path) is writable by " + (mode & 0o002 != 0 ? "every user" : "its group")
                + " (mode \(String(mode, radix: 8))); run chmod go-w \(path), or choose a folder of normd's own"
        }
        return nil
    }
}
