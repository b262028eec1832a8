import Foundation

extension PipelineSupervisor {
    /// Brings the running pipelines to `new`: unchanged ones keep running; ones whose norm
    /// settings alone changed are retuned in place; others restart, keeping statistics when kind,
    /// channels and stats scope stay. A pipeline that cannot start keeps its old self running.
    /// Returns the failures, one line each; the configuration in force afterwards is `new` when
    /// there were none, else `new`'s daemon settings with the pipelines that run.
    func apply(_ new: Configuration) -> [String] {
        let old = configuration
        var failures: [String] = []
        var next: [Pipeline] = []
        let current = pipelines
        let timeout = new.daemon.shutdownTimeoutS
        let kept = current.filter { old in new.pipelines.contains { $0 == old.configuration } }
        // Only norm settings changed: the pipeline keeps its sockets and counters (retuned in place).
        let retunable = current.filter { old in
            !kept.contains { $0 === old }
                && new.pipelines.contains { $0.name == old.configuration.name && $0.input == old.configuration.input && $0.output == old.configuration.output }
        }
        var leaving = current.filter { old in !kept.contains { $0 === old } && !retunable.contains { $0 === old } }
        Self.stop(leaving, within: timeout)
        for config in new.pipelines {
            if let same = kept.first(where: { $0.configuration == config }) {
                next.append(same)
                continue
            }
            if let running = retunable.first(where: { $0.configuration.name == config.name }) {
                let before = running.configuration
                do {
                    let state = try keeper.state(for: config, previous: running, resetState: false, counters: running.state.counters)
                    if running.retune(to: config, state: state, within: timeout) {
                        let statistics = config.keepsStatistics(from: before) ? "statistics kept" : "statistics start fresh"
                        logger.notice(
                            "pipeline \(config.name) retuned: \(config.changes(from: before).joined(separator: ", ")); sockets and counters kept, \(statistics)"
                        )
                        next.append(running)
                        continue
                    }
                    if before.input.socket != .jetstream {
                        logger.warning("pipeline \(config.name): in flight did not drain within \(timeout) s; restarting it instead")
                    }  // A cluster worker's settings are fixed for its run: it is always restarted.
                } catch {
                    failures.append("pipeline \(config.name): \(error)")
                    next.append(running)
                    continue
                }
                Self.stop([running], within: timeout)
                leaving.append(running)
            }
            let previous = leaving.first { $0.configuration.name == config.name }
            do {
                let state = try keeper.state(for: config, previous: previous, resetState: false)
                let pipeline = try makePipeline(config, state: state, daemon: new.daemon)
                try pipeline.start()
                next.append(pipeline)
                if let previous {
                    let kept = config.keepsStatistics(from: previous.configuration) ? "statistics and counters kept" : "statistics start fresh"
                    logger.notice("pipeline \(config.name) restarted: \(config.changes(from: previous.configuration).joined(separator: ", ")); \(kept)")
                } else {
                    logger.info("pipeline \(config.name) added")
                }
            } catch {
                failures.append("pipeline \(config.name): \(error)")
                // Put the old one back so a bad endpoint does not take a working pipeline away.
                if let previous, let restored = try? makePipeline(previous.configuration, state: previous.state, daemon: old.daemon),
                    (try? restored.start()) != nil
                {
                    next.append(restored)
                }
            }
        }
        for pipeline in leaving where !new.pipelines.contains(where: { $0.name == pipeline.configuration.name }) {
            logger.info("pipeline \(pipeline.configuration.name) removed")
        }
        replace(failures.isEmpty ? new : Configuration(daemon: new.daemon, pipelines: next.map(\.configuration)), next)
        return failures
    }
}
