import Logging
import NormFormats

/// What the control commands see of the daemon: its pipelines and the few things they ask of it.
/// `Daemon` is one; a test can be another.
public protocol ControlledDaemon: Sendable {
    var pipelines: [Pipeline] { get }
    var uptime: Double { get }
    var logger: Logger { get }
    /// The Prometheus text of `ctl metrics` and `GET /metrics`.
    func metricsText() -> String
    /// Writes every pipeline's state now; the files written.
    func checkpoint() throws(DaemonError) -> [String]
    /// Rereads the configuration and applies it.
    func reload() throws -> ReloadResult
}

extension ControlledDaemon {
    func requirePipeline(_ name: String) throws(ControlError) -> Pipeline {
        guard let pipeline = pipelines.first(where: { $0.configuration.name == name }) else {
            throw ControlError(.unknownPipeline, "no pipeline named \(JSONValue.string(name).serialized)")
        }
        return pipeline
    }
}

extension Daemon: ControlledDaemon {}
