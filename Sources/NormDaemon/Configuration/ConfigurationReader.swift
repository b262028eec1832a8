import NormFormats

/// Reads typed values out of TOML tables, remembering every key it was asked about so that
/// what is left over can be reported as unknown, and collecting all problems, not just the first.
final class ConfigurationReader {
    let file: String
    let lines: [String: Int]
    private(set) var problems: [ConfigurationProblem] = []
    private(set) var warnings: [ConfigurationProblem] = []

    init(file: String, lines: [String: Int]) {
        self.file = file
        self.lines = lines
    }

    func fail(_ key: String, _ message: String) {
        problems.append(ConfigurationProblem(file: file, line: line(of: key), key: key, message: message))
    }

    func warn(_ key: String, _ message: String) {
        warnings.append(ConfigurationProblem(file: file, line: line(of: key), key: key, message: message))
    }

    /// The line of `key`, or of the closest enclosing key or table that was written down
    /// (`bind[0]` sits on the line of `bind`).
    func line(of key: String) -> Int? {
        var candidate = key
        while true {
            if let line = lines[candidate] { return line }
            if candidate.hasSuffix("]"), let open = candidate.lastIndex(of: "["), !candidate[..<open].hasSuffix(".") {
                candidate = String(candidate[..<open])
                continue
            }
            guard let dot = candidate.lastIndex(of: ".") else { return nil }
            candidate = String(candidate[..<dot])
        }
    }

    /// One table being read.
    final class Table {
        let path: String
        private let members: [(String, TOMLNode)]
        private var read: Set<String> = []
        unowned let reader: ConfigurationReader

        init(path: String, members: [(String, TOMLNode)], reader: ConfigurationReader) {
            self.path = path
            self.members = members
            self.reader = reader
        }

        func key(_ name: String) -> String { path.isEmpty ? name : "\(path).\(name)" }

        func has(_ name: String) -> Bool { members.contains { $0.0 == name } }

        func node(_ name: String) -> TOMLNode? {
            read.insert(name)
            return members.last { $0.0 == name }?.1
        }

        func string(_ name: String, _ fallback: String) -> String {
            guard let node = node(name) else { return fallback }
            if case .string(let s) = node { return withoutNUL(s, at: key(name)) ?? fallback }
            reader.fail(key(name), "expected a string, found \(node.typeName)")
            return fallback
        }

        /// TOML allows `\u0000` in a string, but every string normd reads becomes a C string (a path,
        /// an endpoint, a name in file names): cut at the NUL, it would name another file or socket.
        private func withoutNUL(_ value: String, at key: String) -> String? {
            guard value.utf8.contains(0) else { return value }
            reader.fail(key, "contains a NUL character (\\u0000), which no path, endpoint or name can hold")
            return nil
        }

        func bool(_ name: String, _ fallback: Bool) -> Bool {
            guard let node = node(name) else { return fallback }
            if case .bool(let b) = node { return b }
            reader.fail(key(name), "expected true or false, found \(node.typeName)")
            return fallback
        }

        func int(_ name: String, _ fallback: Int, minimum: Int = 0, maximum: Int = .max) -> Int {
            guard let node = node(name) else { return fallback }
            guard case .int(let i) = node else {
                reader.fail(key(name), "expected an integer, found \(node.typeName)")
                return fallback
            }
            guard i >= minimum else {
                reader.fail(key(name), "\(i) is below the minimum \(minimum)")
                return fallback
            }
            guard i <= maximum else {
                reader.fail(key(name), "\(i) is above the maximum \(maximum)")
                return fallback
            }
            return i
        }

        func double(_ name: String, _ fallback: Double, range: ClosedRange<Double>, exclusiveLower: Bool = false) -> Double {
            guard let node = node(name) else { return fallback }
            let value: Double
            switch node {
            case .double(let d): value = d
            case .int(let i): value = Double(i)
            default:
                reader.fail(key(name), "expected a number, found \(node.typeName)")
                return fallback
            }
            guard range.contains(value), !(exclusiveLower && value == range.lowerBound) else {
                reader.fail(key(name), "\(value) is out of range \(exclusiveLower ? "(" : "[")\(range.lowerBound), \(range.upperBound)]")
                return fallback
            }
            return value
        }

        func strings(_ name: String, _ fallback: [String]) -> [String] {
            guard let node = node(name) else { return fallback }
            guard case .array(let items) = node else {
                reader.fail(key(name), "expected an array of strings, found \(node.typeName)")
                return fallback
            }
            var result: [String] = []
            for (i, item) in items.enumerated() {
                guard case .string(let s) = item else {
                    reader.fail("\(key(name))[\(i)]", "expected a string, found \(item.typeName)")
                    continue
                }
                if let s = withoutNUL(s, at: "\(key(name))[\(i)]") { result.append(s) }
            }
            return result
        }

        func choice<T: RawRepresentable & CaseIterable>(_ name: String, _ fallback: T) -> T where T.RawValue == String {
            let raw = string(name, fallback.rawValue)
            if let value = T(rawValue: raw) { return value }
            let options = T.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")
            reader.fail(key(name), "\"\(raw)\" is not one of \(options)")
            return fallback
        }

        func table(_ name: String) -> Table? {
            guard let node = node(name) else { return nil }
            guard case .table(let members) = node else {
                reader.fail(key(name), "expected a table, found \(node.typeName)")
                return nil
            }
            return Table(path: key(name), members: members, reader: reader)
        }

        /// Reports every key that no reader asked for.
        func finish() {
            for (name, _) in members where !read.contains(name) {
                reader.fail(key(name), "unknown key")
            }
        }
    }
}
