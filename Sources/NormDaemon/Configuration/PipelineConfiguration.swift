/// One `[[pipeline]]` table.
public struct PipelineConfiguration: Sendable, Equatable {
    public var name: String
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
