import NormFormats

/// A control command's failure, answered as `{"error": CODE, "detail": TEXT}`.
public struct ControlError: Error, Sendable, Equatable {
    public enum Code: String, Sendable {
        case unknownCommand = "unknown_command"
        case unknownPipeline = "unknown_pipeline"
        case unknownKey = "unknown_key"
        case badArgument = "bad_argument"
        case config
        case internalError = "internal"
    }
    public let code: Code
    public let detail: String
    public init(_ code: Code, _ detail: String) {
        self.code = code
        self.detail = detail
    }
    var json: JSONValue { .object([("error", .string(code.rawValue)), ("detail", .string(detail))]) }
    /// The reply line.
    var reply: String { json.serialized + "\n" }
}
