import Locking

/// The daemon, for the handlers of listeners bound while it is being built (the control socket,
/// the metrics listener): set at the end of its initializer, held weakly so the daemon and its
/// listeners do not keep each other alive. Before it is set, or after the daemon is gone, the
/// handlers see nil.
final class DaemonReference: Sendable {
    private struct Weak { weak var daemon: Daemon? }
    private let box = ObservedMutex(Weak())

    var daemon: Daemon? { box.withLock { $0.daemon } }
    func set(_ daemon: Daemon) { box.withLock { $0.daemon = daemon } }
}
