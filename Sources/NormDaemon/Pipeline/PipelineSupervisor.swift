import Foundation
import Locking
import Logging
import ServiceLifecycle
import ZeroMQ

/// Starts, stops and replaces the pipelines, and holds the configuration in force. Its pipelines
/// are started (bound and connected) when it is built; as a service it lets them run until the
/// daemon shuts down, then stops them, each publishing what it holds within `shutdown_timeout_s`.
public final class PipelineSupervisor: Service, Sendable {
    let context: ZMQContext
    let authenticator: ZAPAuthenticator
    let keeper: StateKeeper
    let logger: Logger
    private let running: ObservedMutex<Running>

    struct Running {
        var configuration: Configuration
        var pipelines: [Pipeline]
    }

    public var configuration: Configuration { running.withLock { $0.configuration } }
    public var pipelines: [Pipeline] { running.withLock { $0.pipelines } }
    public func pipeline(named name: String) -> Pipeline? { pipelines.first { $0.configuration.name == name } }

    /// Starts every configured pipeline; if one cannot start, stops those that did and throws.
    init(
        configuration: Configuration, context: ZMQContext, authenticator: ZAPAuthenticator, keeper: StateKeeper,
        resetState: Bool, logger: Logger
    ) throws {
        self.context = context
        self.authenticator = authenticator
        self.keeper = keeper
        self.logger = logger
        running = ObservedMutex(Running(configuration: configuration, pipelines: []))
        var started: [Pipeline] = []
        do {
            for config in configuration.pipelines {
                let state = try keeper.state(for: config, previous: nil, resetState: resetState)
                let pipeline = try makePipeline(config, state: state, daemon: configuration.daemon)
                try pipeline.start()
                started.append(pipeline)
            }
        } catch {
            Self.stop(started, within: 0)
            throw error
        }
        running.withLock { $0.pipelines = started }
    }

    public func run() async {
        try? await gracefulShutdown()
        let timeout = configuration.daemon.shutdownTimeoutS
        logger.info("shutting down", metadata: ["timeout_s": "\(timeout)"])
        let all = pipelines
        await Blocking.run { Self.stop(all, within: timeout) }
    }

    func makePipeline(_ config: PipelineConfiguration, state: PipelineState, daemon: DaemonSettings) throws -> Pipeline {
        let threads = daemon.threads > 0 ? daemon.threads : ProcessInfo.processInfo.activeProcessorCount
        return try Pipeline(
            configuration: config, state: state, context: context, authenticator: authenticator,
            threads: threads, logger: logger)
    }

    /// Asks every pipeline to stop at once, then waits for each.
    static func stop(_ pipelines: [Pipeline], within seconds: Double) {
        for pipeline in pipelines { pipeline.stop(within: seconds) }
        for pipeline in pipelines { pipeline.join() }
    }

    /// Whether every pipeline's loop turned recently (the watchdog pings only then).
    func allTurning(within seconds: Double) -> Bool {
        pipelines.allSatisfy { $0.isTurning(within: seconds) }
    }

    func replace(_ configuration: Configuration, _ pipelines: [Pipeline]) {
        running.withLock { $0 = Running(configuration: configuration, pipelines: pipelines) }
    }

    /// One line for systemd's STATUS.
    func statusLine() -> String {
        let snapshot = pipelines.map { $0.state.counters.snapshot() }
        let published = snapshot.reduce(0) { $0 + $1.published }
        let rejected = snapshot.reduce(0) { $0 + $1.rejectedTotal }
        return "\(snapshot.count) pipelines, \(published) published, \(rejected) rejected"
    }
}
