import Foundation
import ServiceLifecycle

/// Pings systemd's watchdog (`WatchdogSec=`) while every pipeline's loop turns: a pipeline stuck
/// for longer than the watchdog interval stops the pings, and systemd restarts the daemon.
/// With no pings asked for it only waits for shutdown (a service that returns early ends the group).
struct WatchdogService: Service {
    let notifier: SystemdNotifier
    let supervisor: PipelineSupervisor

    func run() async {
        guard let interval = notifier.watchdogInterval else {
            try? await gracefulShutdown()
            return
        }
        let period = Duration.seconds(min(interval, 0.5))
        while true {
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: period) }
            } catch {
                return  // shutting down
            }
            if supervisor.allTurning(within: max(1, interval)) { notifier.watchdog() }
        }
    }
}
