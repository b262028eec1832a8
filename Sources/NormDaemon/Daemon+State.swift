import Foundation
import NormCore

extension Daemon {
    /// A pipeline's statistics, affine and mode: kept from `previous` when the reload allows,
    /// else from the state file, else from `init`, else PyTorch's initial values.
    func makeState(_ config: PipelineConfiguration, previous: Pipeline?, resetState: Bool) throws -> PipelineState {
        let norm = config.norm
        if let previous, config.keepsStatistics(from: previous.configuration), config.norm.initFile == previous.configuration.norm.initFile,
           config.norm.affine == previous.configuration.norm.affine {
            let old = previous.state
            let mode = norm.mode == old.configuredMode ? old.mode : norm.mode
            return PipelineState(name: config.name, store: old.store, affine: old.affine, mode: mode, configuredMode: norm.mode, counters: old.counters)
        }
        if let previous { logger.notice("pipeline \(config.name) starts with fresh statistics: kind, channels or stats scope changed (was \(previous.configuration.norm.kind.rawValue))") }

        var seedStatistics: RunningStatistics?
        var affine: Affine? = norm.affine && norm.channels > 0 ? Affine.identity(count: norm.channels) : nil
        if !norm.initFile.isEmpty {
            let file = try InitFile.load(path: norm.initFile, norm: norm)
            seedStatistics = file.statistics
            if let fileAffine = file.affine { affine = fileAffine }
        }
        let seed: @Sendable (Int) -> RunningStatistics = { [seedStatistics] channels in
            if let seedStatistics, seedStatistics.channels == channels { return seedStatistics }
            return .initial(channels: channels)
        }
        let evicts = norm.keyPolicy == .evictLRU && norm.maxKeys > 0
        let name = config.name
        var archive: (@Sendable (String) -> RunningStatistics?)?
        if evicts {
            archive = { [unowned self] (key: String) -> RunningStatistics? in self.archived(key: key, pipeline: name) }
        }
        let store = StatisticsStore(configuredChannels: norm.channels, keepsStatistics: norm.settings.hasRunningStatistics,
                                    maxKeys: norm.settings.hasRunningStatistics ? norm.maxKeys : 0, evictsLeastRecentlyUsed: evicts,
                                    archive: archive, seed: seed)
        var mode = norm.mode
        if resetState {
            logger.notice("pipeline \(config.name): --reset-state, ignoring any state file")
        } else {
            let loaded = try stateFiles.load(pipeline: config.name)
            var snapshot: StateFiles.Snapshot?
            switch loaded {
            case .none: break
            case .current(let s): snapshot = s
            case .previous(let s, let problem):
                logger.critical("pipeline \(config.name): \(problem); starting from the previous generation \(stateFiles.previousPath(config.name))")
                snapshot = s
            }
            if let snapshot {
                if snapshot.kind != norm.kind || snapshot.shared != (norm.stats == .shared) {
                    logger.warning("pipeline \(config.name): state file is for kind \(snapshot.kind.rawValue); starting fresh")
                } else {
                    // With evict_lru the file may hold more keys than max_keys: the first max_keys by name
                    // are loaded, the others stay in the file until they return.
                    let keep = Set(evicts ? Array(snapshot.keys.keys.sorted().prefix(norm.maxKeys)) : Array(snapshot.keys.keys))
                    for (key, stats) in snapshot.keys where keep.contains(key) {
                        guard norm.channels == 0 || stats.channels == norm.channels else {
                            throw DaemonError(.state, "state file for \(config.name) has \(stats.channels) channels for key \"\(key)\", configuration says \(norm.channels)")
                        }
                        store.restore(key: key, channels: stats.channels, statistics: stats)
                    }
                    if let saved = snapshot.affine, norm.affine, saved.weight.count == affine?.weight.count { affine = saved }
                    if norm.mode == snapshot.configuredMode { mode = snapshot.mode }
                    logger.info("pipeline \(config.name): restored \(snapshot.keys.count) keys from state")
                }
            }
        }
        return PipelineState(name: config.name, store: store, affine: affine, mode: mode, configuredMode: norm.mode)
    }
}
