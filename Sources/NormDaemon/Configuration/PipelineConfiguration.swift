/// One `[[pipeline]]` table.
public struct PipelineConfiguration: Sendable, Equatable {
    public var name: String
    /// A name's longest use is the file name `<name>.prev.safetensors.tmp`, within 255 bytes.
    public static let maxNameBytes = 200
    public var input = InputSettings()
    public var output = OutputSettings()
    public var norm = NormConfiguration()

    public init(name: String) { self.name = name }

    /// Whether statistics carry over a reload: same kind, channels and stats scope.
    public func keepsStatistics(from old: PipelineConfiguration) -> Bool {
        norm.kind == old.norm.kind && norm.channels == old.norm.channels && norm.stats == old.norm.stats
            && norm.trackRunningStats == old.norm.trackRunningStats && norm.groups == old.norm.groups
    }
}
