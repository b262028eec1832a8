import NormCore
import NormFormats

/// One configuration key, declared once: its name, its type (by the constructor that made it),
/// how it is read and checked, how the effective configuration shows it, and what it means. The
/// default is the settings struct's own initial value, which reading starts from.
struct ConfigurationKey<Settings> {
    let name: String
    /// One line for the commented example (docs/configuration.md says more).
    let doc: String
    /// What the commented example sets, when it shows something other than the default.
    let example: String?
    let read: (ConfigurationReader.Table, inout Settings) -> Void
    /// The TOML value in force.
    let render: (Settings) -> String

    /// A check of one value: nil when it is fine, else what is wrong with it.
    typealias Check<Value> = (Value) -> String?

    static func string(
        _ name: String, _ path: WritableKeyPath<Settings, String>, example: String? = nil, _ doc: String,
        check: Check<String>? = nil
    ) -> Self {
        Self(
            name: name, doc: doc, example: example,
            read: { table, settings in
                settings[keyPath: path] = table.string(name, settings[keyPath: path])
                if let problem = check?(settings[keyPath: path]) { table.reader.fail(table.key(name), problem) }
            }, render: { TOMLText.quote($0[keyPath: path]) })
    }

    static func strings(
        _ name: String, _ path: WritableKeyPath<Settings, [String]>, example: String? = nil, _ doc: String,
        check: Check<String>? = nil
    ) -> Self {
        Self(
            name: name, doc: doc, example: example,
            read: { table, settings in
                settings[keyPath: path] = table.strings(name, settings[keyPath: path])
                guard let check else { return }
                for (i, item) in settings[keyPath: path].enumerated() {
                    if let problem = check(item) { table.reader.fail("\(table.key(name))[\(i)]", problem) }
                }
            }, render: { TOMLText.list($0[keyPath: path]) })
    }

    static func int(
        _ name: String, _ path: WritableKeyPath<Settings, Int>, minimum: Int = 0, maximum: Int = .max, example: String? = nil, _ doc: String
    ) -> Self {
        Self(
            name: name, doc: doc, example: example,
            read: { table, settings in
                settings[keyPath: path] = table.int(name, settings[keyPath: path], minimum: minimum, maximum: maximum)
            }, render: { "\($0[keyPath: path])" })
    }

    static func double(
        _ name: String, _ path: WritableKeyPath<Settings, Double>, range: ClosedRange<Double>, exclusiveLower: Bool = false,
        example: String? = nil, _ doc: String
    ) -> Self {
        Self(
            name: name, doc: doc, example: example,
            read: { table, settings in
                settings[keyPath: path] = table.double(name, settings[keyPath: path], range: range, exclusiveLower: exclusiveLower)
            }, render: { TOMLText.number($0[keyPath: path]) })
    }

    static func bool(_ name: String, _ path: WritableKeyPath<Settings, Bool>, example: String? = nil, _ doc: String) -> Self {
        Self(
            name: name, doc: doc, example: example,
            read: { table, settings in
                settings[keyPath: path] = table.bool(name, settings[keyPath: path])
            }, render: { "\($0[keyPath: path])" })
    }

    /// One of an enumeration's raw values.
    static func choice<T: RawRepresentable & CaseIterable>(
        _ name: String, _ path: WritableKeyPath<Settings, T>, example: String? = nil,
        _ doc: String
    ) -> Self where T.RawValue == String {
        Self(
            name: name, doc: doc, example: example,
            read: { table, settings in
                settings[keyPath: path] = table.choice(name, settings[keyPath: path])
            }, render: { TOMLText.quote($0[keyPath: path].rawValue) })
    }
}
