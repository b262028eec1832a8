import Glibc
import Synchronization

/// SIGHUP while the daemon starts. Its default action ends the process, and the daemon's own
/// SIGHUP handling (`HangupService`) begins only once it has started: a reload asked for in between
/// (`kill -HUP` or `systemctl kill -s HUP` right after a restart, while the state is restored or
/// NATS is reached) would end the daemon. `install`, first thing in `normd run`, puts a handler
/// there that only notes the signal; `HangupService` then reloads once for it.
enum StartupHangup {
    private static let arrived = Atomic<Bool>(false)

    static func install() {
        // Touch the global first: its lazy initialization must not run inside a handler.
        arrived.store(false, ordering: .relaxed)
        signal(SIGHUP) { _ in StartupHangup.arrived.store(true, ordering: .relaxed) }
    }

    /// Whether a SIGHUP came since `install`, once.
    static func take() -> Bool { arrived.exchange(false, ordering: .relaxed) }
}
