import Foundation
import Locking
import Logging
import NormCore

/// The daemon's state on disk: the state folder and its lock, the pipelines' state files and
/// key archives. Builds each pipeline's `PipelineState` (from the state file, `init` or a running
/// pipeline) and writes the snapshots, one at a time, with the health the metrics report.
public final class StateKeeper: Sendable {
    let files: StateFiles
    let logger: Logger
    /// Held for the daemon's life: one daemon per state folder.
    private let lock: InstanceLock
    /// State files are written by checkpoints, shutdown and reloads; one at a time.
    private let writes = ObservedMutex(())
    private let health = ObservedMutex(Health())

    /// Checkpoint outcomes, for the metrics.
    public struct Health: Sendable {
        public var lastSuccess: Date?
        public var failures = 0
    }

    /// Creates the state folder if needed and takes its lock, before any socket is bound or any
    /// state read: a second instance must touch nothing.
    init(directory: String, logger: Logger) throws(DaemonError) {
        files = StateFiles(directory: directory)
        self.logger = logger
        try files.makeDirectory()
        lock = try InstanceLock(directory: directory)
    }

    public var checkpointHealth: Health { health.withLock { $0 } }

    /// Writes each pipeline's state now; returns the files written. With `onlyChanged`, a
    /// pipeline whose state is what its file already holds is skipped (the periodic checkpoint:
    /// with many idle keys, rewriting the same file every interval costs a pass over all of them).
    func checkpoint(_ pipelines: [Pipeline], onlyChanged: Bool = false) throws(DaemonError) -> [String] {
        var written: [String] = []
        for pipeline in pipelines {
            let state = pipeline.state
            let result: Result<String?, DaemonError> = writes.withLock { _ in
                // Read before the snapshot: a change made while writing leaves the file behind it.
                let revision = state.revision
                if onlyChanged, state.writtenRevision.withLock({ $0 }) == revision { return .success(nil) }
                do throws(DaemonError) {
                    let path = try write(pipeline.configuration, state: state)
                    state.writtenRevision.withLock { $0 = revision }
                    return .success(path)
                } catch {
                    return .failure(error)
                }
            }
            do {
                if let path = try result.get() { written.append(path) }
            } catch {
                health.withLock { $0.failures += 1 }
                throw error
            }
        }
        health.withLock { $0.lastSuccess = Date() }
        return written
    }

    /// Writes one pipeline's state file — its keys in memory and, with `evict_lru`, the archived
    /// ones — then compacts the archive to the keys still archived.
    private func write(_ config: PipelineConfiguration, state: PipelineState) throws(DaemonError) -> String {
        // The archive first: a key that returns meanwhile is then in memory too, never in neither.
        let archive = state.store.archive as? KeyArchive
        var keys = archive?.all() ?? [:]
        for (key, entry) in state.store.entriesByKey { if let stats = entry.statistics { keys[key] = stats } }
        let snapshot = StateFiles.Snapshot(
            kind: config.norm.kind, mode: state.mode, configuredMode: state.configuredMode,
            shared: config.norm.stats == .shared, keys: keys, affine: state.affine)
        let path = try files.write(snapshot, pipeline: config.name)
        try archive?.compact()
        return path
    }
}
