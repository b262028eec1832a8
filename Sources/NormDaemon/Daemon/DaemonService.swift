import Dispatch
import Foundation
import Logging
import ServiceLifecycle
import Locking
import Synchronization
import UnixSignals

/// The daemon as a ServiceLifecycle service: builds the daemon once the service group handles
/// signals (so a SIGTERM right after start-up is never fatal), reloads on SIGHUP, checkpoints every
/// `checkpoint_interval_s`, pings the systemd watchdog while every pipeline turns, and shuts down
/// gracefully when the group does (SIGTERM, SIGINT).
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
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await _ in await UnixSignalsSequence(trapping: .sighup) {
                    daemon.logger.info("SIGHUP: reloading")
                    await Self.offPool { _ = try? daemon.reload() }
                }
            }
            group.addTask { await self.periodic(daemon) }
            try? await gracefulShutdown()
            group.cancelAll()
        }
        await Self.offPool { daemon.shutdown() }
    }

    // Wakes at whichever comes first, the next watchdog ping or the next checkpoint, so an interval
    // shorter than the ping period is still kept (a fixed tick would round it up to the tick).
    private func periodic(_ daemon: Daemon) async {
        let watchdog = daemon.notifier.watchdogInterval
        let pingPeriod = Duration.seconds(min(watchdog ?? 0.5, 0.5))
        var nextPing = ContinuousClock.now + pingPeriod
        var lastCheckpoint = ContinuousClock.now
        while !Task.isCancelled {
            let nextCheckpoint = lastCheckpoint + .seconds(daemon.configuration.daemon.checkpointIntervalS)
            try? await Task.sleep(until: min(nextPing, nextCheckpoint), clock: .continuous)
            let now = ContinuousClock.now
            if now >= nextPing {
                nextPing = now + pingPeriod
                if let watchdog, daemon.allPipelinesTurning(within: max(1, watchdog)) { daemon.notifier.watchdog() }
            }
            if now >= nextCheckpoint {
                lastCheckpoint = now
                await Self.offPool { daemon.periodicCheckpoint() }
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
