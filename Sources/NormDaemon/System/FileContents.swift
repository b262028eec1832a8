import Glibc
import NormFormats

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
        /// With EBADMSG: what the first bytes showed.
        var reason = ""
        var description: String {
            switch code {
            case EILSEQ: "not UTF-8 text"
            case EBADMSG: reason
            case EFBIG: "longer than \(limit) bytes: not a file normd reads (is it a device or an endless pipe?)"
            default: String(cString: strerror(code))
            }
        }
        var isMissing: Bool { code == ENOENT }
        /// The first bytes showed the file is not of the kind expected.
        var isMalformed: Bool { code == EBADMSG }
    }

    /// Configuration files and certificates: text an editor writes.
    static let textLimit = 16 << 20
    /// An init file: one set of per-channel (a layer's per-element) parameters.
    static let initLimit = 1 << 30
    /// A state file: per-channel statistics for every key.
    static let stateLimit = 4 << 30

    /// `prefixProblem`, when given, sees the first `prefixLength` bytes (or the whole file if
    /// shorter) once, before the rest is read; a reason it returns ends the read (EBADMSG).
    static func read(
        _ path: String, limit: Int, prefixLength: Int = 0, prefixProblem: ((ArraySlice<UInt8>) -> String?)? = nil
    ) -> Result<[UInt8], Failure> {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return .failure(Failure(code: errno)) }
        defer { close(fd) }
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        var prefixChecked = prefixProblem == nil
        while true {
            // Until the prefix is checked, read no further than it, so the check comes first.
            let want = prefixChecked ? chunk.count : max(prefixLength - result.count, 1)
            let n = Glibc.read(fd, &chunk, want)
            if n < 0 {
                let code = errno
                if code == EINTR { continue }
                return .failure(Failure(code: code))
            }
            if n > 0 {
                guard result.count + n <= limit else { return .failure(Failure(code: EFBIG, limit: limit)) }
                result += chunk[0..<n]
            }
            if !prefixChecked, n == 0 || result.count >= prefixLength {
                prefixChecked = true
                if let reason = prefixProblem?(result[...]) { return .failure(Failure(code: EBADMSG, reason: reason)) }
            }
            if n == 0 { return .success(result) }
        }
    }

    /// A safetensors file: refused after its first 8 bytes when they give no plausible header
    /// length (`/dev/zero`, random bytes, a text file), not read up to `limit` first.
    static func safetensors(_ path: String, limit: Int) -> Result<[UInt8], Failure> {
        read(path, limit: limit, prefixLength: 8, prefixProblem: SafeTensors.prefixProblem)
    }

    /// The file as UTF-8 text; invalid UTF-8 is a failure (EILSEQ).
    static func text(_ path: String) -> Result<String, Failure> {
        read(path, limit: textLimit).flatMap { bytes in
            String(validating: bytes, as: UTF8.self).map { .success($0) } ?? .failure(Failure(code: EILSEQ))
        }
    }
}
