import NormFormats

/// TOML spellings of values, as the effective configuration and the example print them.
enum TOMLText {
    static func quote(_ s: String) -> String {
        var out = ""
        JSONValue.writeString(s, to: &out)  // a JSON string is a valid TOML basic string
        return out
    }

    static func list(_ items: [String]) -> String { "[" + items.map(quote).joined(separator: ", ") + "]" }

    /// Whole numbers keep a `.0`, so they read back as floats.
    static func number(_ d: Double) -> String {
        d == d.rounded() && abs(d) < 1e15 ? "\(Int64(d)).0" : "\(d)"
    }
}
