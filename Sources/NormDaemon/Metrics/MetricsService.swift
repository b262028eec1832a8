import Locking
import Logging
import ServiceLifecycle

/// The HTTP listener of `daemon.metrics_listen` as a service: bound when built, moved by a
/// reload, closed when the daemon shuts down. Empty `metrics_listen` means no listener.
final class MetricsService: Service, Sendable {
    private let current: ObservedMutex<MetricsListener?>
    private let render: @Sendable () -> String
    private let logger: Logger

    init(listen: String, render: @escaping @Sendable () -> String, logger: Logger) throws {
        self.render = render
        self.logger = logger
        current = ObservedMutex(try Self.listener(listen, render: render, logger: logger))
    }

    private static func listener(_ listen: String, render: @escaping @Sendable () -> String, logger: Logger) throws -> MetricsListener? {
        try HostPort(listen).map { try MetricsListener(host: $0.host, port: Int($0.port), render: render, logger: logger) }
    }

    /// Serves on `listen` instead (binding it first, so a failure keeps the old listener).
    func move(to listen: String) throws {
        let next = try Self.listener(listen, render: render, logger: logger)
        current.withLock { current in
            current?.stop()
            current = next
        }
    }

    var port: Int? { current.withLock { $0?.port } }

    func run() async {
        try? await gracefulShutdown()
        await Blocking.run { self.close() }
    }

    /// Closes the listener (also when the daemon could not start and the service never ran).
    func close() {
        current.withLock {
            $0?.stop()
            $0 = nil
        }
    }
}
