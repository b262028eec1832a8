import Glibc
import Synchronization

/// SIGINT and SIGTERM for `normd top`: a handler that only notes which signal came. Installed
/// before the terminal is touched, so a signal at any moment after is seen by the wait loop's
/// next check, at most one key poll (100 ms) later, sooner when the handler interrupts the poll.
///
/// A plain handler, not a Dispatch signal source: a source needs the signal ignored (`SIG_IGN`)
/// while libdispatch installs its own handler later, on its manager thread, so a signal that
/// came between the two would be discarded and `normd top` would run on after Ctrl-C.
enum TopSignals {
    /// 128 + the number of the last SIGINT or SIGTERM since `install`; 0 while none came.
    static let received = Atomic<Int32>(0)

    /// Installs the handler for both signals; returns the handlers it replaced.
    static func install() -> [(signal: Int32, previous: __sighandler_t?)] {
        // Touch the global first: its lazy initialization must not run inside a handler.
        received.store(0, ordering: .relaxed)
        return [SIGINT, SIGTERM].map { number in
            (number, signal(number) { TopSignals.received.store(128 + $0, ordering: .relaxed) })
        }
    }

    /// Puts back what `install` replaced.
    static func restore(_ previous: [(signal: Int32, previous: __sighandler_t?)]) {
        for (number, handler) in previous { signal(number, handler) }
    }
}
