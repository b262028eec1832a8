/// Prints a configuration as TOML with every default filled in, the form `check-config` shows,
/// key by key as `ConfigurationSchema` declares them.
public enum ConfigurationRenderer {
    public static func render(_ configuration: Configuration) -> String {
        var out = ""
        ConfigurationSchema.daemon.render(configuration.daemon, to: &out)
        out.removeFirst()  // the document starts with its first table
        for p in configuration.pipelines {
            out += "\n[[pipeline]]\nname = \(TOMLText.quote(p.name))\n"
            ConfigurationSchema.input.render(p.input, to: &out)
            if p.input.socket == .jetstream { ConfigurationSchema.jetStreamInput.renderKeys(p.input, to: &out) }
            if let curve = p.input.curve { ConfigurationSchema.curve("input").render(curve, to: &out) }
            ConfigurationSchema.output.render(p.output, to: &out)
            if p.output.socket == .jetstream { ConfigurationSchema.jetStreamOutput.renderKeys(p.output, to: &out) }
            if let curve = p.output.curve { ConfigurationSchema.curve("output").render(curve, to: &out) }
            ConfigurationSchema.norm.render(p.norm, to: &out)
        }
        return out
    }
}
