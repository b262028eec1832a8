extension ConfigurationSchema {
    /// config/normd.toml: every key with its one-line doc, a sample pipeline, the CURVE tables
    /// commented out. Values are the defaults except where a key declares an example; those say
    /// their default.
    static func example() -> String {
        var out = """
            # normd configuration — every key, with its default unless marked otherwise.
            # Check it with:  normd check-config config/normd.toml
            # Unknown keys are errors; docs/configuration.md describes every key.
            # Written from the configuration schema (Sources/NormDaemon/Configuration/ConfigurationSchema*.swift).

            """
        let daemonDefaults = DaemonSettings(controlSocket: "", stateDir: "")
        write(daemon, daemonDefaults, to: &out)
        out += "\n[[pipeline]]\n"
        out += line("name = \"features\"", "unique; names the state file <state_dir>/features.safetensors")
        write(input, InputSettings(), to: &out)
        write(jetStreamInput, InputSettings(), commented: true, header: false, to: &out)
        write(curve("input"), CurveSettings(), commented: true, to: &out)
        write(output, OutputSettings(), to: &out)
        write(jetStreamOutput, OutputSettings(), commented: true, header: false, to: &out)
        write(norm, NormConfiguration(), to: &out)
        return out
    }

    private static func write<Settings>(
        _ section: ConfigurationSection<Settings>, _ defaults: Settings, commented: Bool = false, header: Bool = true,
        to out: inout String
    ) {
        let prefix = commented ? "# " : ""
        if header {
            out += "\n\(prefix)[\(section.table)]\(commented ? "   (optional: encrypt and authenticate; see docs/configuration.md)" : "")\n"
        } else {
            out += "# with socket = \"jetstream\" (cluster mode; see docs/cluster.md):\n"
        }
        for key in section.keys {
            let shown = key.example ?? key.render(defaults)
            var doc = key.doc
            if key.example != nil, !commented, !doc.contains("default") { doc += " (default \(key.render(defaults)))" }
            out += line("\(prefix)\(key.name) = \(shown)", doc)
        }
    }

    /// `text` with its doc as a comment from column 38, or on the line above when `text` is long.
    private static func line(_ text: String, _ doc: String) -> String {
        let column = 37
        if text.count >= column { return "# \(doc)\n\(text)\n" }
        return text + String(repeating: " ", count: column - text.count) + "# \(doc)\n"
    }
}
