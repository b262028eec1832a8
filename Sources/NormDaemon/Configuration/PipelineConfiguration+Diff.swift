import NATS

extension PipelineConfiguration {
    /// What a reload changed, as `section.key (old → new)`, keys and values written as in the
    /// configuration file (`ConfigurationSchema`), so an operator can find them there. A CURVE
    /// table is only named (its certificate holds a secret key), a NATS URL's credentials are
    /// written `***`, and an `init` file whose contents changed under the same path is said so,
    /// not printed.
    func changes(from old: PipelineConfiguration) -> [String] {
        var changes = Self.diff(ConfigurationSchema.input, input, old.input) + Self.diff(ConfigurationSchema.jetStreamInput, input, old.input)
        if input.curve != old.input.curve { changes.append("input.curve") }
        changes += Self.diff(ConfigurationSchema.output, output, old.output) + Self.diff(ConfigurationSchema.jetStreamOutput, output, old.output)
        if output.curve != old.output.curve { changes.append("output.curve") }
        changes += Self.diff(ConfigurationSchema.norm, norm, old.norm)
        if norm.initFile == old.norm.initFile && norm.initValues != old.norm.initValues { changes.append("norm.init (the file's contents changed)") }
        return changes
    }

    private static func diff<Settings>(_ section: ConfigurationSection<Settings>, _ new: Settings, _ old: Settings) -> [String] {
        let table = section.table.replacingOccurrences(of: "pipeline.", with: "")
        return section.keys.compactMap { key in
            let (was, now) = (key.render(old), key.render(new))
            return was == now ? nil : "\(table).\(key.name) (\(URLCredentials.redacted(was)) → \(URLCredentials.redacted(now)))"
        }
    }
}
