import Foundation
import Logging
import NormCore
import Locking
import Synchronization
import ZeroMQ

/// Where the configuration came from, so a reload reads it again.
public enum ConfigurationSource: Sendable, Equatable, CustomStringConvertible {
    case file(String)
    case embedded

    public var description: String {
        switch self {
        case .file(let path): path
        case .embedded: "<embedded default>"
        }
    }

    public func load() throws(ConfigurationError) -> ConfigurationLoader.Loaded {
        switch self {
        case .file(let path): try ConfigurationLoader.load(path: path)
        case .embedded: try ConfigurationLoader.parse(ConfigurationLoader.embeddedDefault, file: "<embedded default>")
        }
    }
}

/// The running daemon: pipelines, control socket, checkpoints, reloads. Built by `start` from a
/// configuration; the executable and the tests use the same object graph.
public final class Daemon: Sendable {
    public let logger: Logger
    public let source: ConfigurationSource
    public let notifier: SystemdNotifier
    let context: ZMQContext
    let authenticator: ZAPAuthenticator
    let startedAt = Date()
    let stateFiles: StateFiles
    /// Held for the daemon's life: one daemon per state folder.
    let instanceLock: InstanceLock
    private let running: ObservedMutex<Running>
    /// Serializes reloads, checkpoints and shutdown, which come from signals and the control socket.
    private let administration = DispatchQueue(label: "normd.administration")
    private let control: ObservedMutex<ControlServer?> = ObservedMutex(nil)
    private let metricsListener: ObservedMutex<MetricsListener?> = ObservedMutex(nil)
    /// Reload and checkpoint outcomes, for the metrics.
    struct Health: Sendable {
        var lastReloadSuccessful = true
        var lastReloadSuccess: Date
        var lastCheckpointSuccess: Date?
        var checkpointFailures = 0
    }
    let health: ObservedMutex<Health>
    /// The last rendered exposition, shared by scrapes and `ctl metrics` within a second.
    private let metricsCache = ObservedMutex<(text: String, renderedAt: UInt64)?>(nil)
    /// State files are written by checkpoints, shutdown and reloads; one at a time.
    let stateWrites = ObservedMutex(())

    struct Running {
        var configuration: Configuration
        var pipelines: [Pipeline]
    }

    public var configuration: Configuration { running.withLock { $0.configuration } }
    public var pipelines: [Pipeline] { running.withLock { $0.pipelines } }
    public func pipeline(named name: String) -> Pipeline? { pipelines.first { $0.configuration.name == name } }

    /// Loads state, starts every pipeline and the control socket. Throws before anything runs
    /// if a state file is unusable or a socket cannot be bound.
    public init(configuration: Configuration, source: ConfigurationSource, resetState: Bool = false,
                logger: Logger, notifier: SystemdNotifier = SystemdNotifier()) throws {
        self.logger = logger
        self.source = source
        self.notifier = notifier
        self.stateFiles = StateFiles(directory: configuration.daemon.stateDir)
        // Before any socket is bound or any state read: a second instance must touch nothing.
        try stateFiles.makeDirectory()
        self.instanceLock = try InstanceLock(directory: configuration.daemon.stateDir)
        self.context = try ZMQContext(ioThreads: 1)
        self.authenticator = ZAPAuthenticator(logger: logger)
        self.running = ObservedMutex(Running(configuration: configuration, pipelines: []))
        self.health = ObservedMutex(Health(lastReloadSuccess: startedAt))
        try authenticator.start(context: context)
        var started: [Pipeline] = []
        do {
            for config in configuration.pipelines {
                let state = try makeState(config, previous: nil, resetState: resetState)
                let pipeline = try makePipeline(config, state: state, daemon: configuration.daemon)
                try pipeline.start()
                started.append(pipeline)
            }
            running.withLock { $0.pipelines = started }
            try startMetricsListener(configuration.daemon.metricsListen)
            // The control socket comes last: once `normd ctl` answers, every listener is bound.
            // unowned: shutdown() stops the server before the daemon can go away.
            let server = try ControlServer(path: configuration.daemon.controlSocket, controlGroup: configuration.daemon.controlGroup,
                                           logger: logger) { [unowned self] line in
                ControlCommand.execute(line, on: self)
            }
            server.start()
            control.withLock { $0 = server }
        } catch {
            control.withLock { $0?.stop(); $0 = nil }
            metricsListener.withLock { $0?.stop(); $0 = nil }
            for pipeline in started { pipeline.stop(within: 0) }
            for pipeline in started { pipeline.join() }
            authenticator.stop()
            context.terminate()
            throw error
        }
        logger.info("normd ready", metadata: ["version": "\(BuildInfo.version)", "config": "\(source.description)",
                                               "pipelines": "\(configuration.pipelines.map(\.name).joined(separator: ","))",
                                               "control_socket": "\(configuration.daemon.controlSocket)"])
        notifier.ready(status: statusLine())
    }

    func makePipeline(_ config: PipelineConfiguration, state: PipelineState, daemon: DaemonSettings) throws -> Pipeline {
        let threads = daemon.threads > 0 ? daemon.threads : ProcessInfo.processInfo.activeProcessorCount
        return try Pipeline(configuration: config, state: state, context: context, authenticator: authenticator,
                            threads: threads, logger: logger)
    }

    /// Serves `GET /metrics` on `listen` (HOST:PORT), replacing the listener there was; empty = none.
    func startMetricsListener(_ listen: String) throws {
        let next = try HostPort(listen).map { address in
            // unowned: shutdown() stops the listener before the daemon can go away.
            try MetricsListener(host: address.host, port: Int(address.port), render: { [unowned self] in metricsText() },
                                logger: logger)
        }
        metricsListener.withLock { current in
            current?.stop()
            current = next
        }
    }

    /// The Prometheus text, rendered at most once a second however many ask: concurrent scrapes
    /// wait for one render and share it (with many keys one render is large).
    public func metricsText() -> String {
        metricsCache.withLock { cache in
            if let cache, DispatchTime.now().uptimeNanoseconds &- cache.renderedAt < 1_000_000_000 { return cache.text }
            let text = MetricsExposition.render(self)
            // Stamped when done: scrapes that waited for a slow render take it as fresh.
            cache = (text, DispatchTime.now().uptimeNanoseconds)
            return text
        }
    }

    public var uptime: Double { Date().timeIntervalSince(startedAt) }

    func statusLine() -> String {
        let snapshot = pipelines.map { ($0.configuration.name, $0.state.counters.snapshot()) }
        let published = snapshot.reduce(0) { $0 + $1.1.published }, rejected = snapshot.reduce(0) { $0 + $1.1.rejectedTotal }
        return "\(snapshot.count) pipelines, \(published) published, \(rejected) rejected"
    }

    /// Writes every pipeline's state now; returns the files written.
    public func checkpoint() throws(DaemonError) -> [String] {
        var files: [String] = []
        for pipeline in pipelines {
            let result: Result<String, DaemonError> = stateWrites.withLock { _ in
                do throws(DaemonError) {
                    return .success(try write(pipeline.configuration, state: pipeline.state))
                } catch {
                    return .failure(error)
                }
            }
            do {
                files.append(try result.get())
            } catch {
                health.withLock { $0.checkpointFailures += 1 }
                throw error
            }
        }
        health.withLock { $0.lastCheckpointSuccess = Date() }
        return files
    }

    /// Writes one pipeline's state file — its keys in memory and, with `evict_lru`, the archived
    /// ones — then compacts the archive to the keys still archived.
    private func write(_ config: PipelineConfiguration, state: PipelineState) throws(DaemonError) -> String {
        // The archive first: a key that returns meanwhile is then in memory too, never in neither.
        let archive = state.store.archive as? KeyArchive
        var keys = archive?.all() ?? [:]
        for (key, entry) in state.store.snapshot() { if let stats = entry.statistics { keys[ExactString(key)] = stats } }
        let snapshot = StateFiles.Snapshot(kind: config.norm.kind, mode: state.mode, configuredMode: state.configuredMode,
                                           shared: config.norm.stats == .shared, keys: keys, affine: state.affine)
        let path = try stateFiles.write(snapshot, pipeline: config.name)
        try archive?.compact()
        return path
    }

    /// Stops receiving, publishes what is in flight within `shutdown_timeout_s`, writes the state.
    public func shutdown() {
        administration.sync {
            notifier.stopping()
            let timeout = configuration.daemon.shutdownTimeoutS
            logger.info("shutting down", metadata: ["timeout_s": "\(timeout)"])
            let all = pipelines
            for pipeline in all { pipeline.stop(within: timeout) }
            for pipeline in all { pipeline.join() }
            do {
                let files = try checkpoint()
                logger.info("state written", metadata: ["files": "\(files.joined(separator: ","))"])
            } catch {
                logger.error("cannot write state at shutdown: \(error)")
            }
            control.withLock { $0?.stop(); $0 = nil }
            metricsListener.withLock { $0?.stop(); $0 = nil }
            authenticator.stop()
            context.terminate()
        }
    }

    /// The run loop's checkpoint every `checkpoint_interval_s`: failures are logged, not thrown.
    public func periodicCheckpoint() {
        administration.sync {
            do { _ = try checkpoint() } catch { logger.error("checkpoint failed: \(error)") }
        }
    }

    /// Whether every pipeline's loop turned recently (the watchdog pings only then).
    public func allPipelinesTurning(within seconds: Double) -> Bool {
        pipelines.allSatisfy { $0.isTurning(within: seconds) }
    }

    func runAdministration<T>(_ body: () throws -> T) rethrows -> T { try administration.sync(execute: body) }
    func replacePipelines(_ configuration: Configuration, _ pipelines: [Pipeline]) {
        running.withLock { $0 = Running(configuration: configuration, pipelines: pipelines) }
    }
}
