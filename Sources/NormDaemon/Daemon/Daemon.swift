import Foundation
import Locking
import Logging
import NormCore
import ServiceLifecycle
import ZeroMQ

/// The composition root: builds the daemon's parts from a configuration and hands each the narrow
/// parts it needs. Building binds every socket and reads every state file, so whatever can fail at
/// start fails here, before anything runs. As a service it reports ready, runs `services` until
/// a graceful shutdown has stopped them all, and ends the ZeroMQ context.
public final class Daemon: Service, Sendable {
    public let logger: Logger
    public let source: ConfigurationSource
    public let notifier: SystemdNotifier
    /// The wall-clock start, for `process_start_time_seconds` alone.
    let startedAt = Date()
    /// The monotonic start, for `uptime`: a step of the wall clock (NTP, chrony's makestep,
    /// `date -s`) must not make the daemon older or younger.
    private let startedAtNanoseconds = MonotonicClock.nanoseconds()
    /// The ZeroMQ context its sockets live in (an `inproc://` peer must use it too).
    public let context: ZMQContext
    let authenticator: ZAPAuthenticator
    let keeper: StateKeeper
    let supervisor: PipelineSupervisor
    let metrics: MetricsService
    let control: ControlServer
    /// Serializes reloads and checkpoints, which come from SIGHUP, the control socket and the clock.
    let administration = DispatchQueue(label: "normd.administration")
    /// The last rendered exposition, shared by scrapes and `ctl metrics` within a second.
    private let metricsCache = ObservedMutex<(text: String, renderedAt: UInt64)?>(nil)
    let reloadHealth: ObservedMutex<ReloadHealth>

    /// Reload outcomes, for the metrics.
    struct ReloadHealth: Sendable {
        var lastSuccessful = true
        var lastSuccess: Date
    }

    public var configuration: Configuration { supervisor.configuration }
    public var pipelines: [Pipeline] { supervisor.pipelines }
    public func pipeline(named name: String) -> Pipeline? { supervisor.pipeline(named: name) }
    public var uptime: Double { Double(MonotonicClock.nanoseconds() &- startedAtNanoseconds) / 1e9 }

    /// Takes the state folder, loads state, starts every pipeline, the metrics listener and the
    /// control socket, in that order. Throws, having closed what it opened, if any cannot start.
    public init(
        configuration: Configuration, source: ConfigurationSource, resetState: Bool = false,
        logger: Logger, notifier: SystemdNotifier = SystemdNotifier()
    ) throws {
        self.logger = logger
        self.source = source
        self.notifier = notifier
        reloadHealth = ObservedMutex(ReloadHealth(lastSuccess: startedAt))
        keeper = try StateKeeper(directory: configuration.daemon.stateDir, logger: logger)
        context = try ZMQContext(ioThreads: 1)
        authenticator = try ZAPAuthenticator(context: context, logger: logger)
        let reference = DaemonReference()
        var supervisor: PipelineSupervisor?
        var metrics: MetricsService?
        do {
            supervisor = try PipelineSupervisor(
                configuration: configuration, context: context, authenticator: authenticator,
                keeper: keeper, resetState: resetState, logger: logger)
            metrics = try MetricsService(
                listen: configuration.daemon.metricsListen, render: { reference.daemon?.metricsText() ?? "" },
                logger: logger)
            self.supervisor = supervisor!
            self.metrics = metrics!
            // The control socket comes last: once `normd ctl` answers, every listener is bound.
            control = try ControlServer(
                path: configuration.daemon.controlSocket, controlGroup: configuration.daemon.controlGroup,
                logger: logger,
                handler: { line in
                    guard let daemon = reference.daemon else { return ControlError(.internalError, "normd is stopping").reply }
                    return ControlCommand.execute(line, on: daemon)
                })
        } catch {
            metrics?.close()
            if let supervisor { PipelineSupervisor.stop(supervisor.pipelines, within: 0) }
            authenticator.close()
            context.terminate()
            throw error
        }
        reference.set(self)
    }

    /// The parts that run, in start order. A graceful shutdown stops them in reverse, each after
    /// the one before has finished: SIGHUP and the control socket first (no reload or command
    /// meets a half-stopped daemon), then the metrics listener and the watchdog, then the
    /// pipelines (publishing what they hold), then the final checkpoint, and ZAP last (pipelines
    /// with CURVE need it while they drain).
    public var services: [any Service] {
        [
            authenticator,
            CheckpointService(daemon: self),
            supervisor,
            WatchdogService(notifier: notifier, supervisor: supervisor),
            metrics,
            control,
            HangupService(daemon: self),
        ]
    }

    public func run() async throws {
        let configuration = configuration
        logger.info(
            "normd ready",
            metadata: [
                "version": "\(BuildInfo.version)", "config": "\(source.description)",
                "pipelines": "\(configuration.pipelines.map(\.name).joined(separator: ","))",
                "control_socket": "\(configuration.daemon.controlSocket)",
            ])
        notifier.ready(status: supervisor.statusLine())
        let group = ServiceGroup(configuration: .init(services: services.map { .init(service: $0) }, logger: logger))
        try await withGracefulShutdownHandler {
            try await group.run()
        } onGracefulShutdown: { [notifier] in
            notifier.stopping()
        }
        // Every ZeroMQ socket is closed now, so the context can end — within the shutdown bound:
        // the state is already written, and a daemon that hangs at SIGTERM is killed by systemd.
        let bound = configuration.daemon.shutdownTimeoutS
        if !context.terminate(within: bound) {
            logger.warning("ZeroMQ did not release its sockets within \(bound) s of the pipelines closing them; exiting without waiting")
        }
    }

    /// The Prometheus text, rendered at most once a second however many ask: concurrent scrapes
    /// wait for one render and share it (with many keys one render is large).
    public func metricsText() -> String {
        metricsCache.withLock { cache in
            if let cache, MonotonicClock.nanoseconds() &- cache.renderedAt < 1_000_000_000 { return cache.text }
            let text = MetricsExposition.render(self)
            // Stamped when done: scrapes that waited for a slow render take it as fresh.
            cache = (text, MonotonicClock.nanoseconds())
            return text
        }
    }

    /// The Prometheus text rendered now, bypassing the shared one-second render.
    public func metricsTextUncached() -> String { MetricsExposition.render(self) }

    /// Writes every pipeline's state now, after any reload in progress; returns the files written.
    public func checkpoint() throws(DaemonError) -> [String] { try checkpoint(onlyChanged: false) }

    /// As `checkpoint()`; with `onlyChanged`, pipelines whose state file is up to date are left as they are.
    public func checkpoint(onlyChanged: Bool) throws(DaemonError) -> [String] {
        let result: Result<[String], DaemonError> = administration.sync {
            do throws(DaemonError) { return .success(try keeper.checkpoint(supervisor.pipelines, onlyChanged: onlyChanged)) } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }
}
