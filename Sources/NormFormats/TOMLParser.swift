/// A TOML 1.0 parser for configuration files that records the line of every key and table.
///
/// normd used TOMLKit until fuzzing under LeakSanitizer showed that every way of reading a
/// TOMLKit table (`keys`, iteration, `convert`) leaks the C strings its shim allocates; a
/// configuration format this small is cheaper to parse than to work around. Dates and times
/// parse (as `.other`) but no normd key takes one.
public struct TOMLParser {
    public struct Document: Sendable {
        public let root: TOMLNode
        /// `pipeline[0].norm.groups` → the line it was written on (tables: their header's line).
        public let lines: [String: Int]
    }

    let bytes: [UInt8]
    var index = 0
    var line = 1
    private var lines: [String: Int] = [:]

    public static func parse(_ text: String) throws(TOMLSyntaxError) -> Document {
        var parser = TOMLParser(bytes: Array(text.utf8))
        let root = try parser.document()
        return Document(root: root.node, lines: parser.lines)
    }

    private init(bytes: [UInt8]) { self.bytes = bytes }

    // MARK: - Tree being built

    private final class Table {
        var keys: [String] = []
        var entries: [String: Entry] = [:]
        let path: String
        /// Defined by a `[header]` or as a value; implicit tables (made for dotted keys) are not.
        var explicit = false
        var inline = false
        init(path: String) { self.path = path }

        func child(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

        func set(_ key: String, _ entry: Entry) {
            if entries[key] == nil { keys.append(key) }
            entries[key] = entry
        }

        var node: TOMLNode {
            .table(
                keys.map { key in
                    switch entries[key]! {
                    case .value(let node): (key, node)
                    case .table(let table): (key, table.node)
                    case .tables(let tables): (key, .array(tables.map(\.node)))
                    }
                })
        }
    }

    private enum Entry {
        case value(TOMLNode)
        case table(Table)
        case tables([Table])
    }

    func fail(_ message: String) -> TOMLSyntaxError { TOMLSyntaxError(line: line, message: message) }

    // MARK: - Document

    private mutating func document() throws(TOMLSyntaxError) -> Table {
        let root = Table(path: "")
        root.explicit = true
        var current = root
        while true {
            skipBlankLines()
            guard let byte = peek() else { return root }
            if byte == UInt8(ascii: "[") {
                current = try header(root)
            } else {
                try keyValue(into: current)
            }
            try endOfLine()
        }
    }

    private mutating func header(_ root: Table) throws(TOMLSyntaxError) -> Table {
        let headerLine = line
        index += 1
        let isArray = peek() == UInt8(ascii: "[")
        if isArray { index += 1 }
        skipSpaces()
        let path = try keyPath()
        skipSpaces()
        guard take(UInt8(ascii: "]")), !isArray || take(UInt8(ascii: "]")) else {
            throw fail(isArray ? "expected ']]' after the table name" : "expected ']' after the table name")
        }
        var table = root
        for key in path.dropLast() { table = try descend(table, key) }
        let last = path.last!
        if isArray {
            var tables: [Table]
            switch table.entries[last] {
            case nil: tables = []
            case .tables(let existing)?: tables = existing
            default: throw fail("\(table.child(last)) is already defined and is not an array of tables")
            }
            let element = Table(path: "\(table.child(last))[\(tables.count)]")
            element.explicit = true
            tables.append(element)
            table.set(last, .tables(tables))
            lines[element.path] = headerLine
            lines[table.child(last)] = lines[table.child(last)] ?? headerLine
            return element
        }
        switch table.entries[last] {
        case nil:
            let created = Table(path: table.child(last))
            created.explicit = true
            table.set(last, .table(created))
            lines[created.path] = headerLine
            return created
        case .table(let existing)? where !existing.explicit && !existing.inline:
            existing.explicit = true
            lines[existing.path] = headerLine
            return existing
        default:
            throw fail("table \(table.child(last)) is defined twice")
        }
    }

    /// The table `key` names inside `table` for a header or dotted key, made if missing.
    private mutating func descend(_ table: Table, _ key: String) throws(TOMLSyntaxError) -> Table {
        switch table.entries[key] {
        case nil:
            let created = Table(path: table.child(key))
            table.set(key, .table(created))
            return created
        case .table(let existing)?:
            guard !existing.inline else { throw fail("inline table \(existing.path) cannot be extended") }
            return existing
        case .tables(let tables)?:
            return tables[tables.count - 1]
        case .value?:
            throw fail("\(table.child(key)) is a value, not a table")
        }
    }

    private mutating func keyValue(into table: Table) throws(TOMLSyntaxError) {
        let keyLine = line
        let path = try keyPath()
        skipSpaces()
        guard take(UInt8(ascii: "=")) else { throw fail("expected '=' after the key") }
        skipSpaces()
        let value = try self.value(depth: 0)
        var target = table
        for key in path.dropLast() {
            target = try descend(target, key)
            target.explicit = true
        }
        let last = path.last!
        guard target.entries[last] == nil else { throw fail("key \(target.child(last)) is defined twice") }
        if case .table(let members) = value {
            let inline = Table(path: target.child(last))
            inline.inline = true
            inline.explicit = true
            for (key, node) in members { inline.set(key, .value(node)) }
            target.set(last, .table(inline))
        } else {
            target.set(last, .value(value))
        }
        lines[target.child(last)] = keyLine
    }

    private mutating func keyPath() throws(TOMLSyntaxError) -> [String] {
        var keys = [try simpleKey()]
        while true {
            skipSpaces()
            guard take(UInt8(ascii: ".")) else { return keys }
            skipSpaces()
            keys.append(try simpleKey())
        }
    }

    private mutating func simpleKey() throws(TOMLSyntaxError) -> String {
        switch peek() {
        case UInt8(ascii: "\"")?: return try basicString()
        case UInt8(ascii: "'")?: return try literalString()
        default:
            let start = index
            while let byte = peek(), Self.isBareKey(byte) { index += 1 }
            guard index > start else { throw fail("expected a key") }
            return String(decoding: bytes[start..<index], as: UTF8.self)
        }
    }

    private static func isBareKey(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
    }

    // MARK: - Values

    private mutating func value(depth: Int) throws(TOMLSyntaxError) -> TOMLNode {
        guard depth < 64 else { throw fail("values nested deeper than 64") }
        guard let byte = peek() else { throw fail("expected a value") }
        switch byte {
        case UInt8(ascii: "\""): return .string(try basicString())
        case UInt8(ascii: "'"): return .string(try literalString())
        case UInt8(ascii: "["): return try array(depth: depth)
        case UInt8(ascii: "{"): return try inlineTable(depth: depth)
        default: return try scalar()
        }
    }

    private mutating func array(depth: Int) throws(TOMLSyntaxError) -> TOMLNode {
        index += 1
        var items: [TOMLNode] = []
        while true {
            skipBlankLines()
            if take(UInt8(ascii: "]")) { return .array(items) }
            items.append(try value(depth: depth + 1))
            skipBlankLines()
            if take(UInt8(ascii: ",")) { continue }
            guard take(UInt8(ascii: "]")) else { throw fail("expected ',' or ']' in the array") }
            return .array(items)
        }
    }

    private mutating func inlineTable(depth: Int) throws(TOMLSyntaxError) -> TOMLNode {
        index += 1
        let table = Table(path: "")
        skipSpaces()
        if take(UInt8(ascii: "}")) { return table.node }
        while true {
            skipSpaces()
            let path = try keyPath()
            skipSpaces()
            guard take(UInt8(ascii: "=")) else { throw fail("expected '=' in the inline table") }
            skipSpaces()
            let value = try self.value(depth: depth + 1)
            var target = table
            for key in path.dropLast() { target = try descend(target, key) }
            guard target.entries[path.last!] == nil else { throw fail("key \(path.last!) is defined twice in the inline table") }
            target.set(path.last!, .value(value))
            skipSpaces()
            if take(UInt8(ascii: ",")) { continue }
            guard take(UInt8(ascii: "}")) else { throw fail("expected ',' or '}' in the inline table") }
            return table.node
        }
    }

    private mutating func scalar() throws(TOMLSyntaxError) -> TOMLNode {
        let start = index
        while let byte = peek(), Self.isScalarCharacter(byte) || (byte == UInt8(ascii: " ") && isDateTimeSeparator(start)) { index += 1 }
        let token = String(decoding: bytes[start..<index], as: UTF8.self)
        guard !token.isEmpty else { throw fail("expected a value") }
        switch token {
        case "true": return .bool(true)
        case "false": return .bool(false)
        case "inf", "+inf": return .double(.infinity)
        case "-inf": return .double(-.infinity)
        case "nan", "+nan", "-nan": return .double(.nan)
        default: break
        }
        if token.contains(":") || (token.count >= 10 && token.dropFirst(4).first == "-") { return .other(token) }
        guard let digits = Self.underscoresRemoved(token) else { throw fail("invalid number \(token)") }
        for (prefix, radix) in [("0x", 16), ("0o", 8), ("0b", 2)] where digits.hasPrefix(prefix) {
            guard let value = Int(digits.dropFirst(2), radix: radix) else { throw fail("invalid number \(token)") }
            return .int(value)
        }
        let unsigned = digits.first == "+" || digits.first == "-" ? digits.dropFirst() : Substring(digits)
        guard let first = unsigned.first, first.isASCII, first.isNumber else { throw fail("invalid value \(token)") }
        if unsigned.count > 1 && first == "0" && unsigned.dropFirst().first?.isNumber == true {
            throw fail("leading zeros in \(token)")
        }
        if digits.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }) {
            guard !digits.hasSuffix("."), !digits.contains(".e"), !digits.contains(".E"), !unsigned.hasPrefix("."),
                let value = Double(digits)
            else { throw fail("invalid number \(token)") }
            return .double(value)
        }
        guard let value = Int(digits) else { throw fail("invalid integer \(token)") }
        return .int(value)
    }

    private func isDateTimeSeparator(_ start: Int) -> Bool {
        // "1979-05-27 07:32:00": a space between a date and a time.
        index - start == 10 && bytes[start + 4] == UInt8(ascii: "-") && index + 1 < bytes.count
            && (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index + 1])
    }

    private static func isScalarCharacter(_ byte: UInt8) -> Bool {
        isBareKey(byte) || byte == UInt8(ascii: "+") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: ":")
    }

    /// Underscores must sit between digits.
    private static func underscoresRemoved(_ token: String) -> String? {
        let chars = Array(token)
        for (i, c) in chars.enumerated() where c == "_" {
            guard i > 0, i < chars.count - 1, chars[i - 1].isHexDigit, chars[i + 1].isHexDigit else { return nil }
        }
        return String(chars.filter { $0 != "_" })
    }

    // MARK: - White space

    func peek() -> UInt8? { index < bytes.count ? bytes[index] : nil }

    mutating func take(_ byte: UInt8) -> Bool {
        guard peek() == byte else { return false }
        index += 1
        return true
    }

    func starts(with text: String) -> Bool {
        let pattern = Array(text.utf8)
        return index + pattern.count <= bytes.count && Array(bytes[index..<(index + pattern.count)]) == pattern
    }

    mutating func skipFirstNewline() {
        if starts(with: "\r\n") {
            index += 2
            line += 1
        } else if take(UInt8(ascii: "\n")) {
            line += 1
        }
    }

    private mutating func skipSpaces() {
        while let byte = peek(), byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") { index += 1 }
    }

    private mutating func skipComment() {
        guard peek() == UInt8(ascii: "#") else { return }
        while let byte = peek(), byte != UInt8(ascii: "\n") { index += 1 }
    }

    /// White space, comments and newlines (between statements, and inside arrays).
    private mutating func skipBlankLines() {
        while true {
            skipSpaces()
            skipComment()
            if take(UInt8(ascii: "\n")) {
                line += 1
                continue
            }
            if starts(with: "\r\n") {
                index += 2
                line += 1
                continue
            }
            return
        }
    }

    private mutating func endOfLine() throws(TOMLSyntaxError) {
        skipSpaces()
        skipComment()
        if peek() == nil { return }
        if take(UInt8(ascii: "\n")) {
            line += 1
            return
        }
        if starts(with: "\r\n") {
            index += 2
            line += 1
            return
        }
        throw fail("expected the end of the line")
    }
}
