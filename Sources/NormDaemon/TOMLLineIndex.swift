/// Finds the line a dotted key (`pipeline[0].norm.groups`) was written on, by reading the TOML
/// text's table headers and key lines; TOMLKit keeps no positions for values.
struct TOMLLineIndex {
    private var lines: [String: Int] = [:]

    init(source: String) {
        var table: [String] = []
        var arrayCounts: [String: Int] = [:]
        for (number, rawLine) in source.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.trimmingCharacters(in: " \t\r")
            guard !line.isEmpty, !line.hasPrefix("#") else { continue }
            if line.hasPrefix("[[") {
                let name = Self.header(line, brackets: 2)
                let parts = name.split(separator: ".").map(String.init)
                let base = Self.resolve(parts.dropLast(), arrayCounts: arrayCounts)
                let arrayPath = (base + [parts.last ?? ""]).joined(separator: ".")
                let index = arrayCounts[arrayPath, default: -1] + 1
                arrayCounts[arrayPath] = index
                table = base + ["\(parts.last ?? "")[\(index)]"]
                record(table.joined(separator: "."), number + 1)
            } else if line.hasPrefix("[") {
                table = Self.resolve(Self.header(line, brackets: 1).split(separator: ".").map(String.init)[...], arrayCounts: arrayCounts)
                record(table.joined(separator: "."), number + 1)
            } else if let equals = line.firstIndex(of: "=") {
                let key = line[..<equals].trimmingCharacters(in: " \t").replacingOccurrences(of: "\"", with: "")
                record((table + [key]).joined(separator: "."), number + 1)
            }
        }
    }

    private mutating func record(_ key: String, _ line: Int) {
        if lines[key] == nil { lines[key] = line }
    }

    /// The line of `key`, or of the closest enclosing table that was written down.
    func line(of key: String) -> Int? {
        var candidate = key
        while true {
            if let line = lines[candidate] { return line }
            // `bind[0]` was written on the line of `bind`; otherwise try the enclosing table.
            if candidate.hasSuffix("]"), let open = candidate.lastIndex(of: "["), !candidate[..<open].hasSuffix(".") {
                candidate = String(candidate[..<open])
                continue
            }
            guard let dot = candidate.lastIndex(of: ".") else { return nil }
            candidate = String(candidate[..<dot])
        }
    }

    private static func header(_ line: String, brackets: Int) -> String {
        let inner = line.dropFirst(brackets)
        let end = inner.firstIndex(of: "]") ?? inner.endIndex
        return inner[..<end].trimmingCharacters(in: " \t").replacingOccurrences(of: "\"", with: "")
    }

    /// `pipeline.norm` under the latest `[[pipeline]]` is `pipeline[N].norm`.
    private static func resolve(_ parts: ArraySlice<String>, arrayCounts: [String: Int]) -> [String] {
        var resolved: [String] = []
        for part in parts {
            let path = (resolved + [part]).joined(separator: ".")
            if let index = arrayCounts[path] { resolved.append("\(part)[\(index)]") } else { resolved.append(part) }
        }
        return resolved
    }
}

extension StringProtocol {
    func trimmingCharacters(in set: String) -> String {
        var slice = Substring(self)
        while let first = slice.first, set.contains(first) { slice.removeFirst() }
        while let last = slice.last, set.contains(last) { slice.removeLast() }
        return String(slice)
    }

    func replacingOccurrences(of target: String, with replacement: String) -> String {
        split(separator: Character(target), omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
