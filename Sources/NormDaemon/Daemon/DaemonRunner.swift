import Dispatch
import Foundation
import Locking
import Logging
import ServiceLifecycle
import Synchronization
import UnixSignals

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
        // Peers come and go; a write to one that left must be an error, never the end of the daemon.
        signal(SIGPIPE, SIG_IGN)
        StartupHangup.install()
        let missing = CPUSupport.missingFeatures()
        guard missing.isEmpty else {
            FileHandle.standardError.write(
                Data("normd: this CPU lacks \(missing.joined(separator: ", ")); normd's kernels need x86-64 with AVX2, FMA and F16C\n".utf8))
            return 1
        }
        let loaded: ConfigurationLoader.Loaded
        do {
            loaded = try source.load()
        } catch {
            FileHandle.standardError.write(Data("\(error)\n".utf8))
            return ConfigurationError.exitCode
        }
        let logger = makeLogger(loaded.configuration.daemon.logLevel)
        for warning in loaded.warnings { logger.warning("\(warning)") }
        // Before any pipeline allocates: received batches then reuse the heap's pages.
        AllocatorSettings.apply()
        if let raised = DescriptorLimit.raise() {
            logger.debug("descriptor limit raised to the hard limit", metadata: ["from": "\(raised.before)", "to": "\(raised.after)"])
        }
        let service = DaemonService {
            try Daemon(configuration: loaded.configuration, source: source, resetState: resetState, logger: logger)
        }
        let group = ServiceGroup(services: [service], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        do {
            try await group.run()
        } catch {
            let failure = service.startupFailure.withLock { $0 } ?? error
            logger.critical("cannot start: \(failure)")
            if let failure = failure as? DaemonError, failure.code == .configuration { return ConfigurationError.exitCode }
            if let failure = failure as? DaemonError, failure.code == .alreadyRunning { return DaemonError.alreadyRunningExitCode }
            return 1
        }
        logger.info("normd stopped")
        return 0
    }
}
