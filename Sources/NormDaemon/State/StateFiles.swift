import Foundation
import NormCore
import NormFormats

/// A pipeline's checkpoint as it is written to and read from `<state_dir>/<pipeline>.safetensors`
/// (docs/state-files.md), with the previous generation kept beside it.
public struct StateFiles: Sendable {
    public let directory: String

    public init(directory: String) { self.directory = directory }

    public func currentPath(_ pipeline: String) -> String { "\(directory)/\(pipeline).safetensors" }
    public func previousPath(_ pipeline: String) -> String { "\(directory)/\(pipeline).prev.safetensors" }

    /// A pipeline's state, as plain values.
    public struct Snapshot: Sendable, Equatable {
        public var kind: NormKind
        public var mode: NormMode
        public var configuredMode: NormMode
        public var shared: Bool
        /// By key, as bytes.
        public var keys: [ExactString: RunningStatistics]
        public var affine: Affine?
    }

    /// The file's bytes: keys in byte order, each key's tensors together, the affine last.
    public static func encoded(_ snapshot: Snapshot) -> [UInt8] {
        let metadata = [
            "format": "normd-state-1", "kind": snapshot.kind.rawValue, "mode": snapshot.mode.rawValue,
            "configured_mode": snapshot.configuredMode.rawValue, "stats": snapshot.shared ? "shared" : "per_key",
        ]
        let channels = snapshot.keys.first?.value.channels ?? 0
        var writer = SafeTensorsWriter(
            metadata: metadata, expectedTensors: snapshot.keys.count * 3 + 2, expectedBytes: snapshot.keys.count * (16 * channels + 8))
        for key in snapshot.keys.keys.sorted() {
            let stats = snapshot.keys[key]!
            let prefix = snapshot.shared ? "" : "\(key.string)."
            writer.append(name: prefix + "num_batches_tracked", int64: stats.batchesTracked)
            writer.append(name: prefix + "running_mean", float64: stats.mean)
            writer.append(name: prefix + "running_var", float64: stats.variance)
        }
        if let affine = snapshot.affine {
            writer.append(name: "bias", .float32(affine.bias))
            writer.append(name: "weight", .float32(affine.weight))
        }
        return writer.finish()
    }

    public static func decode(_ file: SafeTensors) throws(SafeTensors.FormatError) -> Snapshot {
        guard file.metadata["format"] == "normd-state-1" else {
            throw .init(message: "not a normd state file (format \(file.metadata["format"] ?? "missing"))")
        }
        guard let kind = file.metadata["kind"].flatMap(NormKind.init), let mode = file.metadata["mode"].flatMap(NormMode.init),
            let configured = file.metadata["configured_mode"].flatMap(NormMode.init)
        else {
            throw .init(message: "metadata lacks kind, mode or configured_mode")
        }
        let shared = file.metadata["stats"] == "shared"
        var keys: [ExactString: RunningStatistics] = [:]
        for name in file.tensors.keys where name.string.utf8.reversed().starts(with: "running_mean".utf8.reversed()) {
            let prefix = String(decoding: name.string.utf8.dropLast("running_mean".utf8.count), as: UTF8.self)
            guard shared ? prefix.isEmpty : prefix.utf8.last == UInt8(ascii: ".") else { continue }
            let key = ExactString(shared ? "" : String(decoding: prefix.utf8.dropLast(), as: UTF8.self))
            guard let mean = file.tensors[name]?.doubles, let variance = file.tensors["\(prefix)running_var"]?.doubles,
                let count = file.tensors["\(prefix)num_batches_tracked"]?.int64Scalar, mean.count == variance.count
            else {
                throw .init(message: "key \"\(key)\" lacks running_var or num_batches_tracked, or their sizes differ")
            }
            let statistics = RunningStatistics(mean: mean, variance: variance, batchesTracked: count)
            if let problem = statistics.problem { throw .init(message: "key \"\(key)\": \(problem)") }
            keys[key] = statistics
        }
        var affine: Affine?
        if let weight = file.tensors["weight"]?.doubles, let bias = file.tensors["bias"]?.doubles {
            affine = Affine(weight: weight.map(Float.init), bias: bias.map(Float.init))
        }
        return Snapshot(kind: kind, mode: mode, configuredMode: configured, shared: shared, keys: keys, affine: affine)
    }

    /// Writes atomically: temporary file, fsync, current → previous, temporary → current, fsync of the folder.
    public func write(_ snapshot: Snapshot, pipeline: String) throws(DaemonError) -> String {
        let bytes = Self.encoded(snapshot)
        let path = currentPath(pipeline)
        let temporary = "\(path).tmp"
        try makeDirectory()
        let fd = Self.createExclusive(temporary)
        guard fd >= 0 else { throw DaemonError(.state, "cannot create \(temporary)", errno: errno) }
        let failure = Self.writeAll(fd, bytes) ?? (fsync(fd) == 0 ? nil : errno)
        close(fd)
        if let failure {
            unlink(temporary)
            throw DaemonError(.state, "cannot write \(temporary)", errno: failure)
        }
        if access(path, F_OK) == 0, rename(path, previousPath(pipeline)) != 0 {
            throw DaemonError(.state, "cannot keep the previous generation of \(path)", errno: errno)
        }
        guard rename(temporary, path) == 0 else { throw DaemonError(.state, "cannot rename \(temporary)", errno: errno) }
        syncDirectory()
        return path
    }

    /// Makes renames in the folder durable (best effort: a folder that cannot be opened is left).
    func syncDirectory() {
        let directoryFD = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryFD >= 0 {
            fsync(directoryFD)
            close(directoryFD)
        }
    }

    /// The newest readable snapshot, or nil (used to carry archived keys and find returning ones).
    public func newest(pipeline: String) -> Snapshot? {
        switch try? load(pipeline: pipeline) {
        case .current(let snapshot)?, .previous(let snapshot, _)?: snapshot
        default: nil
        }
    }

    /// What `load` found.
    public enum Loaded: Sendable {
        case none
        case current(Snapshot)
        /// The newest file was unreadable; the previous generation was used.
        case previous(Snapshot, problem: String)
    }

    /// Reads the newest good generation; both bad is an error naming the files.
    public func load(pipeline: String) throws(DaemonError) -> Loaded {
        let current = currentPath(pipeline)
        let previous = previousPath(pipeline)
        let currentResult = Self.read(current)
        if case .success(let snapshot?) = currentResult { return .current(snapshot) }
        let previousResult = Self.read(previous)
        switch (currentResult, previousResult) {
        case (.success(nil), .success(nil)): return .none
        case (.success(nil), .success(let snapshot?)): return .previous(snapshot, problem: "\(current) is missing")
        case (.failure(let problem), .success(let snapshot?)): return .previous(snapshot, problem: problem.description)
        case (.failure(let problem), .success(nil)):
            throw DaemonError(.state, "state file \(problem); no previous generation at \(previous)")
        case (.failure(let a), .failure(let b)): throw DaemonError(.state, "state files \(a) and \(b)")
        case (.success(nil), .failure(let b)): throw DaemonError(.state, "state file \(b)")
        case (.success(.some), _): return .none  // handled above
        }
    }

    private static func read(_ path: String) -> Result<Snapshot?, SafeTensors.FormatError> {
        let data: [UInt8]
        switch FileContents.safetensors(path, limit: FileContents.stateLimit) {
        case .success(let bytes): data = bytes
        case .failure(let failure) where failure.isMissing: return .success(nil)
        case .failure(let failure) where failure.isMalformed: return .failure(.init(message: "\(path) is corrupt: \(failure)"))
        case .failure(let failure): return .failure(.init(message: "\(path) is unreadable: \(failure)"))
        }
        do {
            return .success(try decode(try SafeTensors.decode(data)))
        } catch {
            return .failure(.init(message: "\(path) is corrupt: \(error.message)"))
        }
    }

    func makeDirectory() throws(DaemonError) {
        try PrivateDirectory.ensure(directory, purpose: "state folder")
    }

    /// Writes all of `bytes`; the errno of a failure, or nil.
    static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Int32? {
        var written = 0
        return bytes.withUnsafeBytes { raw -> Int32? in
            while written < raw.count {
                let n = Glibc.write(fd, raw.baseAddress! + written, raw.count - written)
                if n < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                if n == 0 { return ENOSPC }
                written += n
            }
            return nil
        }
    }

    /// `evict_lru`'s archive of the keys that left memory.
    public func archivePath(_ pipeline: String) -> String { "\(directory)/\(pipeline).evicted" }

    /// A new file at `path`, never through a link: a leftover (or planted) entry there is removed
    /// first — unlink removes a link, not its target — and O_EXCL|O_NOFOLLOW refuses anything that
    /// appears in between. Returns the descriptor, or -1 with errno set.
    static func createExclusive(_ path: String) -> Int32 {
        unlink(path)
        return open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
    }
}
