import Dispatch
import Foundation
import Logging
import ServiceLifecycle
import UnixSignals

/// The daemon as a ServiceLifecycle service: reloads on SIGHUP, checkpoints every
/// `checkpoint_interval_s`, pings the systemd watchdog while every pipeline turns, and shuts
/// down gracefully when the service group does (SIGTERM, SIGINT).
public struct DaemonService: Service {
    let daemon: Daemon

    public init(daemon: Daemon) { self.daemon = daemon }

    public func run() async throws {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await _ in await UnixSignalsSequence(trapping: .sighup) {
                    daemon.logger.info("SIGHUP: reloading")
                    await Self.offPool { _ = try? daemon.reload() }
                }
            }
            group.addTask { await periodic() }
            try? await gracefulShutdown()
            group.cancelAll()
        }
        await Self.offPool { daemon.shutdown() }
    }

    private func periodic() async {
        let interval = daemon.configuration.daemon.checkpointIntervalS
        let watchdog = daemon.notifier.watchdogInterval
        var nextCheckpoint = ContinuousClock.now + .seconds(interval)
        while !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(Int(min(watchdog ?? 0.5, 0.5) * 1000)))
            if let watchdog, daemon.allPipelinesTurning(within: max(1, watchdog)) { daemon.notifier.watchdog() }
            if ContinuousClock.now >= nextCheckpoint {
                nextCheckpoint = ContinuousClock.now + .seconds(daemon.configuration.daemon.checkpointIntervalS)
                await Self.offPool { daemon.tick(checkpointDue: true) }
            }
        }
    }

    /// Blocking work (joins, fsync) runs on a Dispatch thread, not on the cooperative pool.
    static func offPool(_ body: @escaping @Sendable () -> Void) async {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                body()
                continuation.resume()
            }
        }
    }
}

/// `normd run`: resolves the configuration, builds the daemon and runs it until a signal stops it.
public enum DaemonRunner {
    /// The configuration `run` uses: --config, else $NORMD_CONFIG, else /etc/normd/normd.toml, else the embedded default.
    public static func source(configPath: String?, environment: [String: String] = ProcessInfo.processInfo.environment) -> ConfigurationSource {
        if let configPath { return .file(configPath) }
        if let path = environment["NORMD_CONFIG"], !path.isEmpty { return .file(path) }
        if FileManager.default.fileExists(atPath: DefaultPaths.systemConfigFile) { return .file(DefaultPaths.systemConfigFile) }
        return .embedded
    }

    /// Runs the daemon; returns the process exit status.
    public static func run(source: ConfigurationSource, resetState: Bool, logger makeLogger: (String) -> Logger) async -> Int32 {
        let loaded: ConfigurationLoader.Loaded
        do {
            loaded = try source.load()
        } catch {
            FileHandle.standardError.write(Data("\(error)\n".utf8))
            return ConfigurationError.exitCode
        }
        let logger = makeLogger(loaded.configuration.daemon.logLevel)
        for warning in loaded.warnings { logger.warning("\(warning)") }
        let daemon: Daemon
        do {
            daemon = try Daemon(configuration: loaded.configuration, source: source, resetState: resetState, logger: logger)
        } catch let error as DaemonError where error.code == .configuration {
            logger.critical("cannot start: \(error)")
            return ConfigurationError.exitCode
        } catch {
            logger.critical("cannot start: \(error)")
            return 1
        }
        let group = ServiceGroup(services: [DaemonService(daemon: daemon)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        do {
            try await group.run()
        } catch {
            logger.critical("service group failed: \(error)")
            return 1
        }
        logger.info("normd stopped")
        return 0
    }
}
