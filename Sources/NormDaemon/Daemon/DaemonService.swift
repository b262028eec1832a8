import Foundation
import Locking
import Logging
import ServiceLifecycle

/// `normd run` as the one service of the signal-handling group: builds the daemon once the group
/// handles signals (so a SIGTERM during a long state load is a graceful stop, never fatal), reports
/// ready, runs the daemon's services in a group of their own and, when they have stopped, ends
/// the ZeroMQ context.
public final class DaemonService: Service, Sendable {
    let makeDaemon: @Sendable () throws -> Daemon
    /// Why the daemon could not start, for the exit status.
    let startupFailure = ObservedMutex<(any Error)?>(nil)

    public init(makeDaemon: @escaping @Sendable () throws -> Daemon) { self.makeDaemon = makeDaemon }

    public func run() async throws {
        let daemon: Daemon
        do {
            daemon = try makeDaemon()
        } catch {
            startupFailure.withLock { $0 = error }
            throw error
        }
        let configuration = daemon.configuration
        daemon.logger.info("normd ready", metadata: ["version": "\(BuildInfo.version)", "config": "\(daemon.source.description)",
                                                     "pipelines": "\(configuration.pipelines.map(\.name).joined(separator: ","))",
                                                     "control_socket": "\(configuration.daemon.controlSocket)"])
        daemon.notifier.ready(status: daemon.supervisor.statusLine())
        let services = ServiceGroup(configuration: .init(services: daemon.services.map { .init(service: $0) }, logger: daemon.logger))
        try await withGracefulShutdownHandler {
            try await services.run()
        } onGracefulShutdown: {
            daemon.notifier.stopping()
        }
        daemon.close()
    }
}
