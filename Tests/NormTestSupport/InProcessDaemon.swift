import Foundation
import Logging
import NormDaemon
import NormFormats
import ServiceLifecycle
import ZeroMQ

/// A daemon built and run inside the test process, its pipelines on `inproc://`: what the
/// executable runs, minus the process, so a test of control replies, metrics or reloads takes
/// milliseconds. Peers made with `peers` share its ZeroMQ context, as `inproc://` requires.
public final class InProcessDaemon {
    public let daemon: Daemon
    public let directory: URL
    public let configurationPath: String
    public let peers: TestPeers
    private let group: ServiceGroup
    private let task: Task<Void, any Error>

    /// `pipelines`: `[[pipeline]]` tables whose `ipc://{dir}/` endpoints become `inproc://` ones
    /// (as `pipelineTOML` writes them); `daemon`: more `[daemon]` lines.
    public init(pipelines: String, daemon settings: String = "", log: CapturedLog? = nil) throws {
        directory = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("normd-inproc-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let text = """
            [daemon]
            control_socket = "\(directory.path)/normd.sock"
            state_dir = "\(directory.path)/state"
            \(settings)

            \(pipelines.replacingOccurrences(of: "ipc://{dir}/", with: "inproc://\(directory.lastPathComponent)/"))
            """
        configurationPath = directory.appendingPathComponent("normd.toml").path
        try text.write(toFile: configurationPath, atomically: true, encoding: .utf8)
        let source = ConfigurationSource.file(configurationPath)
        let logger = Logger(label: "normd.test") { _ in
            if let log { return log.handler() }
            return SwiftLogNoOpLogHandler()
        }
        daemon = try Daemon(configuration: try source.load().configuration, source: source, logger: logger)
        peers = TestPeers(context: daemon.context)
        let group = ServiceGroup(configuration: .init(services: [.init(service: daemon)], logger: logger))
        self.group = group
        task = Task { try await group.run() }
    }

    /// The endpoint a pipeline's input or output is bound on.
    public func endpoint(_ pipeline: String, _ suffix: String) -> String { "inproc://\(directory.lastPathComponent)/\(pipeline).\(suffix)" }

    /// One control command, answered as the control socket would.
    public func control(_ line: String) -> String { ControlCommand.execute(line, on: daemon) }

    /// One control command whose answer is JSON, parsed.
    public func controlJSON(_ line: String) throws -> JSONValue {
        try JSONParser.parse(Array(control(line).trimmingCharacters(in: " \n").utf8))
    }

    /// Shuts the daemon down gracefully (pipelines drain, the state is written) and waits for it.
    public func stop() async throws {
        peers.closeAll()
        await group.triggerGracefulShutdown()
        try await task.value
    }

    deinit { try? FileManager.default.removeItem(at: directory) }
}
