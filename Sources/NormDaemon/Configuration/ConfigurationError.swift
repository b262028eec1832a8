/// One problem in a configuration file, printed as `FILE:LINE: DOTTED.KEY: message`.
public struct ConfigurationProblem: Sendable, Equatable, CustomStringConvertible {
    public let file: String
    public let line: Int?
    public let key: String
    public let message: String

    public var description: String {
        let place = line.map { "\(file):\($0)" } ?? file
        return key.isEmpty ? "\(place): \(message)" : "\(place): \(key): \(message)"
    }
}

/// A configuration that cannot be used; exit status 78 (EX_CONFIG).
public struct ConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
    public let problems: [ConfigurationProblem]
    public var description: String { problems.map(\.description).joined(separator: "\n") }

    public static let exitCode: Int32 = 78

    /// Sorted by line (problems with no line last), each line's in the order found.
    public init(problems: [ConfigurationProblem]) {
        self.problems = problems.enumerated().sorted { a, b in
            (a.element.line ?? .max, a.offset) < (b.element.line ?? .max, b.offset)
        }.map(\.element)
    }
    public init(file: String, line: Int? = nil, key: String = "", _ message: String) {
        problems = [ConfigurationProblem(file: file, line: line, key: key, message: message)]
    }
}
