import Foundation
import Locking
import Logging
import ServiceLifecycle

/// `normd run` as the one service of the signal-handling group: builds the daemon once the group
/// handles signals (so a SIGTERM during a long state load is a graceful stop, never fatal), then
/// runs it.
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
        try await daemon.run()
    }
}
