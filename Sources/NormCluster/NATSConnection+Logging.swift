import Logging
import NATS

extension NATSConnection {
    /// An `onEvent` that says in `logger` when the connection to the server is lost and when it
    /// is back (libnats reconnects for ever; without this the log said nothing in between).
    public static func logging(to logger: Logger) -> @Sendable (Event) -> Void {
        { event in
            switch event {
            case .disconnected: logger.warning("NATS connection lost: reconnecting")
            case .reconnected(let url): logger.notice("NATS connection back", metadata: ["url": "\(url)"])
            }
        }
    }
}
