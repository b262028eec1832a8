/// One TOML table of the configuration: its keys in the order they are read and shown, and the
/// checks that involve more than one of them.
struct ConfigurationSection<Settings> {
    /// The table's name in the example and the effective configuration (`pipeline.input`).
    let table: String
    let keys: [ConfigurationKey<Settings>]
    /// Checks across keys, once all are read.
    var check: (ConfigurationReader.Table, Settings) -> Void = { _, _ in }

    /// Reads every key (starting from `settings`, the defaults) and runs the checks; the caller
    /// reads any nested table, then calls `table.finish()` to report keys no one asked for.
    func read(_ table: ConfigurationReader.Table, into settings: inout Settings) {
        for key in keys { key.read(table, &settings) }
        check(table, settings)
    }

    func render(_ settings: Settings, to out: inout String) {
        out += "\n[\(table)]\n"
        renderKeys(settings, to: &out)
    }

    /// The keys alone, for a table that another section's keys complete.
    func renderKeys(_ settings: Settings, to out: inout String) {
        for key in keys { out += "\(key.name) = \(key.render(settings))\n" }
    }
}
