/// Why a batch could not be normalized. Codes are stable and match the wire contract's reasons.
public struct NormError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable, CaseIterable {
        case shape
        case channels
        case payloadSize = "payload_size"
        case nonfinite
        case tooFewValues = "too_few_values"
        case affine
        case statistics
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }
}
