/// The whole daemon configuration (docs/configuration.md), every default filled in. Each
/// property's initial value is its key's default; `ConfigurationSchema` declares the keys.
public struct Configuration: Sendable, Equatable {
    public var daemon: DaemonSettings
    public var pipelines: [PipelineConfiguration]

    public init(daemon: DaemonSettings, pipelines: [PipelineConfiguration]) {
        self.daemon = daemon
        self.pipelines = pipelines
    }
}
