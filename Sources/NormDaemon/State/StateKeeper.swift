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

    /// Writes each pipeline's state now; returns the files written.
    func checkpoint(_ pipelines: [Pipeline]) throws(DaemonError) -> [String] {
        var written: [String] = []
        for pipeline in pipelines {
            let result: Result<String, DaemonError> = writes.withLock { _ in
                do throws(DaemonError) {
                    return .success(try write(pipeline.configuration, state: pipeline.state))
                } catch {
                    return .failure(error)
                }
            }
            do {
                written.append(try result.get())
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
        for (key, entry) in state.store.snapshot() { if let stats = entry.statistics { keys[ExactString(key)] = stats } }
        let snapshot = StateFiles.Snapshot(
            kind: config.norm.kind, mode: state.mode, configuredMode: state.configuredMode,
            shared: config.norm.stats == .shared, keys: keys, affine: state.affine)
        let path = try files.write(snapshot, pipeline: config.name)
        try archive?.compact()
        return path
    }
}
