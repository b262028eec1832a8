import TOMLKit

/// A parsed TOML document as plain Swift values, so nothing of TOMLKit's C++ nodes escapes.
indirect enum TOMLNode: Sendable {
    case table([(String, TOMLNode)])
    case array([TOMLNode])
    case string(String)
    case int(Int)
    case double(Double)
    case bool(Bool)
    /// Dates and times, which normd's configuration never uses.
    case other(String)

    var typeName: String {
        switch self {
        case .table: "a table"
        case .array: "an array"
        case .string: "a string"
        case .int: "an integer"
        case .double: "a float"
        case .bool: "a boolean"
        case .other: "a date or time"
        }
    }

    /// Parses TOML text; the error carries the line toml++ reported.
    static func parse(_ text: String) throws(TOMLSyntaxError) -> TOMLNode {
        do {
            return convert(try TOMLTable(string: text))
        } catch let error as TOMLParseError {
            throw TOMLSyntaxError(line: error.source.begin.line, message: error.description)
        } catch {
            throw TOMLSyntaxError(line: nil, message: "\(error)")
        }
    }

    private static func convert(_ value: TOMLValueConvertible) -> TOMLNode {
        switch value.type {
        case .table:
            let table = value.table!
            return .table(table.keys.map { ($0, convert(table[$0]!)) })
        case .array:
            return .array(value.array!.map { convert($0) })
        case .string: return .string(value.string!)
        case .int: return .int(value.int!)
        case .double: return .double(value.double!)
        case .bool: return .bool(value.bool!)
        default: return .other(value.debugDescription)
        }
    }
}

struct TOMLSyntaxError: Error {
    let line: Int?
    let message: String
}
