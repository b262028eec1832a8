/// A parsed TOML document as plain Swift values.
public indirect enum TOMLNode: Sendable {
    case table([(String, TOMLNode)])
    case array([TOMLNode])
    case string(String)
    case int(Int)
    case double(Double)
    case bool(Bool)
    /// Dates and times, which normd's configuration never uses.
    case other(String)

    public var typeName: String {
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

}

public struct TOMLSyntaxError: Error {
    public let line: Int?
    public let message: String
}
