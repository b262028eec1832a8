import Glibc

/// A whole file read with read(2), so a pipe or a process substitution (`<(envsubst < t.toml)`,
/// `/dev/stdin`) reads as a file does, and a failure names its reason (strerror) rather than
/// Foundation's "you don't have permission" for every kind of failure. A limit keeps a path that
/// never ends (`/dev/zero`, a pipe left open) from filling memory.
enum FileContents {
    /// Why a file could not be read: the errno of the failing call, or a directory.
    struct Failure: Error, Sendable, Equatable, CustomStringConvertible {
        let code: Int32
        /// With EFBIG: the limit the file went past.
        var limit = 0
        var description: String {
            switch code {
            case EILSEQ: "not UTF-8 text"
            case EFBIG: "longer than \(limit) bytes: not a file normd reads (is it a device or an endless pipe?)"
            default: String(cString: strerror(code))
            }
        }
        var isMissing: Bool { code == ENOENT }
    }

    /// Configuration files and certificates: text an editor writes.
    static let textLimit = 16 << 20
    /// An init file: one set of per-channel (a layer's per-element) parameters.
    static let initLimit = 1 << 30
    /// A state file: per-channel statistics for every key.
    static let stateLimit = 4 << 30

    static func read(_ path: String, limit: Int) -> Result<[UInt8], Failure> {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return .failure(Failure(code: errno)) }
        defer { close(fd) }
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = Glibc.read(fd, &chunk, chunk.count)
            if n < 0 {
                let code = errno
                if code == EINTR { continue }
                return .failure(Failure(code: code))
            }
            if n == 0 { return .success(result) }
            guard result.count + n <= limit else { return .failure(Failure(code: EFBIG, limit: limit)) }
            result += chunk[0..<n]
        }
    }

    /// The file as UTF-8 text; invalid UTF-8 is a failure (EILSEQ).
    static func text(_ path: String) -> Result<String, Failure> {
        read(path, limit: textLimit).flatMap { bytes in
            String(validating: bytes, as: UTF8.self).map { .success($0) } ?? .failure(Failure(code: EILSEQ))
        }
    }
}
