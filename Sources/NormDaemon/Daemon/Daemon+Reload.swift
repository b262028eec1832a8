import Foundation

extension Daemon {
    /// Rereads the configuration; an invalid one changes nothing. Pipelines whose configuration is
    /// unchanged keep running; changed ones restart, keeping statistics when kind, channels and
    /// stats scope stay. `metrics_listen` moves at once; settings only a restart applies are named
    /// in the log and in the result.
    public func reload() throws -> ReloadResult {
        try administration.sync {
            notifier.reloading()
            defer { notifier.ready(status: supervisor.statusLine()) }
            var succeeded = false
            defer {
                reloadHealth.withLock { health in
                    health.lastSuccessful = succeeded
                    if succeeded { health.lastSuccess = Date() }
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
            let new = loaded.configuration
            let old = configuration
            do { _ = try keeper.checkpoint(supervisor.pipelines) } catch { logger.error("checkpoint before reload failed: \(error)") }
            let restartNeeded = [
                ("control_socket", new.daemon.controlSocket != old.daemon.controlSocket),
                ("state_dir", new.daemon.stateDir != old.daemon.stateDir),
                ("log_level", new.daemon.logLevel != old.daemon.logLevel),
            ]
            .filter(\.1).map(\.0)
            if !restartNeeded.isEmpty {
                logger.warning("daemon.\(restartNeeded.joined(separator: ", daemon.")) changed: takes effect at the next restart")
            }
            var failures: [String] = []
            if new.daemon.metricsListen != old.daemon.metricsListen {
                do {
                    try metrics.move(to: new.daemon.metricsListen)
                    logger.notice("metrics listener moved", metadata: ["from": "\(old.daemon.metricsListen)", "to": "\(new.daemon.metricsListen)"])
                } catch {
                    failures.append("daemon.metrics_listen: \(error)")
                }
            }
            failures += supervisor.apply(new)
            if !failures.isEmpty {
                let text = failures.joined(separator: "; ")
                logger.error("reload partly failed: \(text)")
                notifier.status("reload failed: \(text)")
                throw ControlError(.config, text)
            }
            succeeded = true
            let names = supervisor.pipelines.map(\.configuration.name)
            logger.info("reloaded", metadata: ["pipelines": "\(names.joined(separator: ","))"])
            return ReloadResult(pipelines: names, restartNeeded: restartNeeded)
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
