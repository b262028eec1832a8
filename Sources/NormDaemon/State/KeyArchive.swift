import Foundation
import Locking
import NormCore

/// `evict_lru`'s archive of the keys that left memory: `<state_dir>/<pipeline>.evicted`, an
/// append-only file of records indexed in memory by key. An eviction appends one record (one
/// `write`, no rewrite of anything else); a returning key appends a tombstone; checkpoints copy
/// every archived key into the state file and compact this file to its live records.
///
/// Durability matches the state file's: appends reach the page cache at once (a killed process
/// loses nothing) and are fsynced at each checkpoint. A record that cannot be written (a full
/// disk) throws, and the key stays in memory. On start the file is replayed, last record wins; a
/// torn record at the end (a crash mid-append) is cut off.
final class KeyArchive: EvictionArchive, Sendable {
    let path: String
    private struct State {
        var fd: Int32
        var size: Int64
        /// Where each archived key's newest record starts.
        var index: [ExactString: Int64]
    }
    private let state: ObservedMutex<State>

    init(path: String) throws(DaemonError) {
        self.path = path
        let fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw DaemonError(.state, "cannot open the eviction archive \(path)", errno: errno) }
        let bytes = Self.readAll(fd)
        var index: [ExactString: Int64] = [:]
        var offset = 0
        while let record = ArchiveRecord.decode(bytes, at: offset) {
            switch record.statistics {
            case .some: index[ExactString(record.key)] = Int64(offset)
            case .none: index[ExactString(record.key)] = nil
            }
            offset += record.length
        }
        if offset < bytes.count { ftruncate(fd, off_t(offset)) }
        state = ObservedMutex(State(fd: fd, size: Int64(offset), index: index))
    }

    deinit { state.withLock { _ = close($0.fd) } }

    func keep(key: String, statistics: RunningStatistics) throws {
        try append(ArchiveRecord.encode(key: key, statistics: statistics), key: key, live: true)
    }

    func forget(key: String) {
        // A failed tombstone only matters after a crash before the next checkpoint's compaction;
        // the index forgets the key either way.
        try? append(ArchiveRecord.encode(key: key, statistics: nil), key: key, live: false)
    }

    func lookup(key: String) -> RunningStatistics? {
        state.withLock { state in
            guard let offset = state.index[ExactString(key)] else { return nil }
            return Self.read(state.fd, at: offset)?.statistics
        }
    }

    var count: Int { state.withLock { $0.index.count } }

    /// Empties the archive (a reset, or a state for another kind).
    func removeAll() {
        state.withLock { state in
            ftruncate(state.fd, 0)
            state.size = 0
            state.index = [:]
        }
    }

    /// Every archived key's statistics.
    func all() -> [ExactString: RunningStatistics] {
        state.withLock { state in
            var result: [ExactString: RunningStatistics] = [:]
            for (key, offset) in state.index { result[key] = Self.read(state.fd, at: offset)?.statistics }
            return result
        }
    }

    /// Rewrites the file with one record per archived key (temporary file, fsync, rename).
    func compact() throws(DaemonError) {
        try state.withLock { (state: inout State) throws(DaemonError) in
            var bytes: [UInt8] = []
            var index: [ExactString: Int64] = [:]
            for (key, offset) in state.index {
                guard let statistics = Self.read(state.fd, at: offset)?.statistics else { continue }
                index[key] = Int64(bytes.count)
                bytes += ArchiveRecord.encode(key: key.string, statistics: statistics)
            }
            let temporary = "\(path).tmp"
            let fd = StateFiles.createExclusive(temporary)
            guard fd >= 0 else { throw DaemonError(.state, "cannot create \(temporary)", errno: errno) }
            if let failure = StateFiles.writeAll(fd, bytes) ?? (fsync(fd) == 0 ? nil : errno) {
                close(fd)
                unlink(temporary)
                throw DaemonError(.state, "cannot write \(temporary)", errno: failure)
            }
            guard rename(temporary, path) == 0 else {
                let code = errno
                close(fd)
                unlink(temporary)
                throw DaemonError(.state, "cannot rename \(temporary)", errno: code)
            }
            close(state.fd)
            state = State(fd: fd, size: Int64(bytes.count), index: index)
        }
    }

    private func append(_ bytes: [UInt8], key: String, live: Bool) throws(DaemonError) {
        try state.withLock { (state: inout State) throws(DaemonError) in
            let written = bytes.withUnsafeBytes { pwrite(state.fd, $0.baseAddress, $0.count, off_t(state.size)) }
            guard written == bytes.count else {
                let code = written < 0 ? errno : ENOSPC
                ftruncate(state.fd, off_t(state.size))  // no torn record stays behind
                throw DaemonError(.state, "cannot append to \(path)", errno: code)
            }
            state.index[ExactString(key)] = live ? state.size : nil
            state.size += Int64(bytes.count)
        }
    }

    private static func read(_ fd: Int32, at offset: Int64) -> ArchiveRecord? {
        var head = [UInt8](repeating: 0, count: ArchiveRecord.headerLength)
        guard pread(fd, &head, head.count, off_t(offset)) == head.count, let length = ArchiveRecord.length(header: head) else { return nil }
        var bytes = [UInt8](repeating: 0, count: length)
        guard pread(fd, &bytes, length, off_t(offset)) == length else { return nil }
        return ArchiveRecord.decode(bytes, at: 0)
    }

    private static func readAll(_ fd: Int32) -> [UInt8] {
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = pread(fd, &chunk, chunk.count, off_t(result.count))
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return result }
            result += chunk[0..<n]
        }
    }
}
