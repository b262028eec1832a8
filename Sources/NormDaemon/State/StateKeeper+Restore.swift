import Foundation
import NormCore

extension StateKeeper {
    /// A pipeline's statistics, affine and mode: kept from `previous` when the reload allows,
    /// else from the state file, else from `init`, else PyTorch's initial values.
    func state(for config: PipelineConfiguration, previous: Pipeline?, resetState: Bool, counters: PipelineCounters? = nil) throws -> PipelineState {
        let norm = config.norm
        if let previous, config.keepsStatistics(from: previous.configuration), config.norm.initFile == previous.configuration.norm.initFile,
            config.norm.affine == previous.configuration.norm.affine
        {
            let old = previous.state
            let mode = norm.mode == old.configuredMode ? old.mode : norm.mode
            return PipelineState(name: config.name, store: old.store, affine: old.affine, mode: mode, configuredMode: norm.mode, counters: old.counters)
        }
        if let previous {
            logger.notice(
                "pipeline \(config.name) starts with fresh statistics: kind, channels or stats scope changed (was \(previous.configuration.norm.kind.rawValue))"
            )
        }

        var seedStatistics: RunningStatistics?
        var affine: Affine? = norm.affine && norm.channels > 0 ? Affine.identity(count: norm.channels) : nil
        if !norm.initFile.isEmpty {
            let file = try norm.initValues ?? InitFile.load(path: norm.initFile, norm: norm)
            seedStatistics = file.statistics
            if let fileAffine = file.affine { affine = fileAffine }
        }
        let seed: @Sendable (Int) -> RunningStatistics = { [seedStatistics] channels in
            if let seedStatistics, seedStatistics.channels == channels { return seedStatistics }
            return .initial(channels: channels)
        }
        let snapshot = resetState ? nil : try savedSnapshot(for: config)
        let evicts = norm.keyPolicy == .evictLRU && norm.maxKeys > 0 && norm.settings.hasRunningStatistics
        // An archive left by an evicting configuration is read even when this one does not evict,
        // so its keys come back into memory instead of being lost.
        let archivePath = files.archivePath(config.name)
        let archive = evicts || FileManager.default.fileExists(atPath: archivePath) ? try KeyArchive(path: archivePath) : nil
        let store = StatisticsStore(
            configuredChannels: norm.channels, keepsStatistics: norm.settings.hasRunningStatistics,
            maxKeys: norm.settings.hasRunningStatistics ? norm.maxKeys : 0, evictsLeastRecentlyUsed: evicts,
            archive: evicts ? archive : nil, seed: seed)
        var mode = norm.mode
        if resetState {
            logger.notice("pipeline \(config.name): --reset-state, ignoring any state file")
            archive?.removeAll()
        } else {
            let restored = try restoreKeys(snapshot?.keys ?? [:], archive: archive, into: store, norm: norm, evicts: evicts, pipeline: config.name)
            if let snapshot {
                if let saved = snapshot.affine, norm.affine, saved.weight.count == affine?.weight.count { affine = saved }
                if norm.mode == snapshot.configuredMode && snapshot.mode != norm.mode {
                    mode = snapshot.mode
                    logger.notice(
                        "pipeline \(config.name): mode \(mode.rawValue) restored from the state (set with ctl mode); the configuration says \(norm.mode.rawValue)"
                    )
                }
            }
            if restored > 0 { logger.info("pipeline \(config.name): restored \(restored) keys from state") }
        }
        return PipelineState(name: config.name, store: store, affine: affine, mode: mode, configuredMode: norm.mode, counters: counters ?? PipelineCounters())
    }

    /// The pipeline's saved state, if it has one for this kind and stats scope. A state file of
    /// another kind or scope is set aside with its previous generation and archive (and the log
    /// names where), so the fresh start overwrites none of it.
    private func savedSnapshot(for config: PipelineConfiguration) throws(DaemonError) -> StateFiles.Snapshot? {
        let snapshot: StateFiles.Snapshot
        switch try files.load(pipeline: config.name) {
        case .none: return nil
        case .current(let s): snapshot = s
        case .previous(let s, let problem):
            logger.critical("pipeline \(config.name): \(problem); starting from the previous generation \(files.previousPath(config.name))")
            snapshot = s
        }
        let scope = config.norm.stats == .shared
        guard snapshot.kind != config.norm.kind || snapshot.shared != scope else { return snapshot }
        let moved = try files.setAside(pipeline: config.name)
        logger.warning(
            "pipeline \(config.name): state file is for kind \(snapshot.kind.rawValue), stats \(snapshot.shared ? "shared" : "per_key"); starting fresh",
            metadata: ["set_aside": "\(moved.joined(separator: ","))"])
        return nil
    }

    /// Puts saved keys back: the state file's, overridden by the archive's newer records. With
    /// eviction the first `max_keys` in byte order go into memory and the rest stay archived;
    /// without, all go into memory. Returns how many keys there are in all.
    private func restoreKeys(
        _ saved: [ExactString: RunningStatistics], archive: KeyArchive?, into store: StatisticsStore,
        norm: NormConfiguration, evicts: Bool, pipeline: String
    ) throws(DaemonError) -> Int {
        let archived = archive?.all() ?? [:]
        let merged = saved.merging(archived) { _, newer in newer }
        let ordered = merged.keys.sorted()
        let inMemory = evicts ? ordered.prefix(norm.maxKeys) : ordered[...]
        for key in inMemory {
            let stats = merged[key]!
            guard norm.channels == 0 || stats.channels == norm.channels else {
                throw DaemonError(
                    .state,
                    "state file for \(pipeline) has \(stats.channels) channels for key \"\(key)\", configuration says \(norm.channels); "
                        + "put channels back, or start once with normd run --reset-state to drop the saved statistics")
            }
            store.restore(key: key.string, channels: stats.channels, statistics: stats)
            if archived[key] != nil { archive?.forget(key: key.string) }
        }
        for key in ordered.dropFirst(inMemory.count) where archived[key] == nil {
            do {
                try archive?.keep(key: key.string, statistics: merged[key]!)
            } catch {
                throw DaemonError(.state, "pipeline \(pipeline): cannot archive key \"\(key)\" beyond max_keys: \(error)")
            }
        }
        return merged.count
    }
}
