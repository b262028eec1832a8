import Foundation

extension Daemon {
    /// Rereads the configuration; an invalid one changes nothing. Pipelines whose configuration is
    /// unchanged keep running; changed ones restart, keeping statistics when kind, channels and
    /// stats scope stay. `metrics_listen` moves at once; settings only a restart applies are named
    /// in the log and in the result.
    public func reload() throws -> ReloadResult {
        try runAdministration {
            notifier.reloading()
            defer { notifier.ready(status: statusLine()) }
            var succeeded = false
            defer {
                health.withLock { health in
                    health.lastReloadSuccessful = succeeded
                    if succeeded { health.lastReloadSuccess = Date() }
                }
            }
            let loaded: ConfigurationLoader.Loaded
            do {
                loaded = try source.load()
            } catch let error as ConfigurationError {
                logger.error("reload refused, configuration is invalid; still serving the old one:\n\(error)")
                notifier.status("reload failed: \(error.problems.first?.description ?? "invalid configuration")")
                throw ControlError(.config, error.description)
            }
            for warning in loaded.warnings { logger.warning("\(warning)") }
            let new = loaded.configuration, old = configuration
            do { _ = try checkpoint() } catch { logger.error("checkpoint before reload failed: \(error)") }
            let restartNeeded = [("control_socket", new.daemon.controlSocket != old.daemon.controlSocket),
                                 ("state_dir", new.daemon.stateDir != old.daemon.stateDir),
                                 ("log_level", new.daemon.logLevel != old.daemon.logLevel)]
                .filter(\.1).map(\.0)
            if !restartNeeded.isEmpty {
                logger.warning("daemon.\(restartNeeded.joined(separator: ", daemon.")) changed: takes effect at the next restart")
            }
            var failures: [String] = []
            if new.daemon.metricsListen != old.daemon.metricsListen {
                do {
                    try startMetricsListener(new.daemon.metricsListen)
                    logger.notice("metrics listener moved", metadata: ["from": "\(old.daemon.metricsListen)", "to": "\(new.daemon.metricsListen)"])
                } catch {
                    failures.append("daemon.metrics_listen: \(error)")
                }
            }
            var next: [Pipeline] = []
            let current = pipelines
            let kept = current.filter { old in new.pipelines.contains { $0 == old.configuration } }
            // Only norm settings changed: the pipeline keeps its sockets and counters (retuned in place).
            let retunable = current.filter { old in
                !kept.contains { $0 === old } && new.pipelines.contains { $0.name == old.configuration.name && $0.input == old.configuration.input && $0.output == old.configuration.output }
            }
            var leaving = current.filter { old in !kept.contains { $0 === old } && !retunable.contains { $0 === old } }
            for pipeline in leaving { pipeline.stop(within: new.daemon.shutdownTimeoutS) }
            for pipeline in leaving { pipeline.join() }
            for config in new.pipelines {
                if let same = kept.first(where: { $0.configuration == config }) {
                    next.append(same)
                    continue
                }
                if let running = retunable.first(where: { $0.configuration.name == config.name }) {
                    let old = running.configuration
                    do {
                        let state = try makeState(config, previous: running, resetState: false, counters: running.state.counters)
                        if running.retune(to: config, state: state, within: new.daemon.shutdownTimeoutS) {
                            let statistics = config.keepsStatistics(from: old) ? "statistics kept" : "statistics start fresh"
                            logger.notice("pipeline \(config.name) retuned: \(config.changes(from: old).joined(separator: ", ")); sockets and counters kept, \(statistics)")
                            next.append(running)
                            continue
                        }
                        logger.warning("pipeline \(config.name): in flight did not drain within \(new.daemon.shutdownTimeoutS) s; restarting it instead")
                    } catch {
                        failures.append("pipeline \(config.name): \(error)")
                        next.append(running)
                        continue
                    }
                    running.stop(within: new.daemon.shutdownTimeoutS)
                    running.join()
                    leaving.append(running)
                }
                let previous = leaving.first { $0.configuration.name == config.name }
                do {
                    let state = try makeState(config, previous: previous, resetState: false)
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
                       (try? restored.start()) != nil {
                        next.append(restored)
                    }
                }
            }
            for pipeline in leaving where !new.pipelines.contains(where: { $0.name == pipeline.configuration.name }) {
                logger.info("pipeline \(pipeline.configuration.name) removed")
            }
            let finalConfiguration = failures.isEmpty ? new : Configuration(daemon: new.daemon, pipelines: next.map(\.configuration))
            replacePipelines(finalConfiguration, next)
            if !failures.isEmpty {
                let text = failures.joined(separator: "; ")
                logger.error("reload partly failed: \(text)")
                notifier.status("reload failed: \(text)")
                throw ControlError(.config, text)
            }
            succeeded = true
            logger.info("reloaded", metadata: ["pipelines": "\(next.map(\.configuration.name).joined(separator: ","))"])
            return ReloadResult(pipelines: next.map(\.configuration.name), restartNeeded: restartNeeded)
        }
    }
}

/// What a successful reload did.
public struct ReloadResult: Sendable {
    /// The pipelines running afterwards.
    public let pipelines: [String]
    /// Changed daemon settings that only a restart applies.
    public let restartNeeded: [String]
}
