import Foundation
import Logging

/// Log lines kept in memory, for tests that check what an operator would read.
public final class CapturedLog: @unchecked Sendable {
    // @unchecked: `lines` is only touched under `lock`.
    private let lock = NSLock()
    private var lines: [(level: Logger.Level, message: String, metadata: Logger.Metadata)] = []

    public init() {}

    public var all: [(level: Logger.Level, message: String, metadata: Logger.Metadata)] { lock.withLock { lines } }

    func append(_ level: Logger.Level, _ message: String, _ metadata: Logger.Metadata) { lock.withLock { lines.append((level, message, metadata)) } }

    /// A handler writing here, for `Logger(label:factory:)`.
    public func handler() -> some LogHandler { Handler(log: self) }

    struct Handler: LogHandler {
        let log: CapturedLog
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            log.append(event.level, "\(event.message)", metadata.merging(event.metadata ?? [:]) { $1 })
        }
    }
}
