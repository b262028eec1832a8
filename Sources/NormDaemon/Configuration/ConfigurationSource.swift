import Foundation

/// Where the configuration came from, so a reload reads it again.
public enum ConfigurationSource: Sendable, Equatable, CustomStringConvertible {
    case file(String)
    case embedded

    public var description: String {
        switch self {
        case .file(let path): path
        case .embedded: "<embedded default>"
        }
    }

    public func load() throws(ConfigurationError) -> ConfigurationLoader.Loaded {
        switch self {
        case .file(let path): try ConfigurationLoader.load(path: path)
        case .embedded: try ConfigurationLoader.parse(ConfigurationLoader.embeddedDefault, file: "<embedded default>")
        }
    }
}
