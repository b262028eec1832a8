import Foundation
import NormCore

/// One control-socket command line, parsed: words separated by single spaces, a word that is
/// empty or holds spaces written as a JSON string.
public enum ControlCommand: Equatable, Sendable {
    case stats, help, checkpoint, reload, metrics
    case show(pipeline: String, key: String?)
    case mode(pipeline: String, NormMode)
    case reset(pipeline: String, key: String?)

    public static let helpText: [(String, String)] = [
        ("stats", "counters per pipeline: received, published, rejected, dropped, in flight, bytes, batches/s, latency"),
        ("show PIPELINE [KEY]", "kind, mode and running statistics per key"),
        ("mode PIPELINE train|eval", "switch the mode"),
        ("reset PIPELINE [KEY]", "running statistics back to their initial values"),
        ("checkpoint", "write the state now"),
        ("reload", "reread the configuration, as SIGHUP"),
        ("metrics", "Prometheus text exposition"),
        ("help", "this list"),
    ]

    public static func parse(_ line: String) throws(ControlError) -> ControlCommand {
        let words = try tokenize(line)
        guard let verb = words.first else { throw ControlError(.unknownCommand, "empty command; try help") }
        let args = Array(words.dropFirst())
        func arity(_ range: ClosedRange<Int>, _ usage: String) throws(ControlError) {
            guard range.contains(args.count) else { throw ControlError(.badArgument, "usage: \(usage)") }
        }
        switch verb {
        case "stats": try arity(0...0, "stats"); return .stats
        case "help": try arity(0...0, "help"); return .help
        case "checkpoint": try arity(0...0, "checkpoint"); return .checkpoint
        case "reload": try arity(0...0, "reload"); return .reload
        case "metrics": try arity(0...0, "metrics"); return .metrics
        case "show": try arity(1...2, "show PIPELINE [KEY]"); return .show(pipeline: args[0], key: args.count > 1 ? args[1] : nil)
        case "reset": try arity(1...2, "reset PIPELINE [KEY]"); return .reset(pipeline: args[0], key: args.count > 1 ? args[1] : nil)
        case "mode":
            try arity(2...2, "mode PIPELINE train|eval")
            guard let mode = NormMode(rawValue: args[1]) else { throw ControlError(.badArgument, "mode must be train or eval, not \"\(args[1])\"") }
            return .mode(pipeline: args[0], mode)
        default: throw ControlError(.unknownCommand, "unknown command \"\(verb)\"; try help")
        }
    }

    static func tokenize(_ line: String) throws(ControlError) -> [String] {
        var words: [String] = []
        var rest = Substring(line.hasSuffix("\r") ? String(line.dropLast()) : line)
        while !rest.isEmpty {
            if rest.first == "\"" {
                var index = rest.index(after: rest.startIndex), escaped = false
                while index < rest.endIndex, escaped || rest[index] != "\"" {
                    escaped = !escaped && rest[index] == "\\"
                    index = rest.index(after: index)
                }
                guard index < rest.endIndex else { throw ControlError(.badArgument, "unterminated quoted word") }
                let literal = rest[...index]
                guard let word = (try? JSONParser.parse(String(literal)))?.stringValue else { throw ControlError(.badArgument, "bad quoted word \(literal)") }
                words.append(word)
                rest = rest[rest.index(after: index)...]
            } else {
                let end = rest.firstIndex(of: " ") ?? rest.endIndex
                words.append(String(rest[..<end]))
                rest = rest[end...]
            }
            if rest.first == " " {
                rest = rest.dropFirst()
                if rest.isEmpty || rest.first == " " { throw ControlError(.badArgument, "words are separated by single spaces") }
            } else if !rest.isEmpty {
                throw ControlError(.badArgument, "a quoted word must be followed by a space")
            }
        }
        return words
    }

    /// Parses and runs one command line, returning the reply text (JSON, or Prometheus text).
    public static func execute(_ line: String, on daemon: Daemon) -> String {
        do {
            let command = try parse(line)
            if command == .metrics { return MetricsExposition.render(daemon) }
            return try command.run(on: daemon).serialized + "\n"
        } catch let error as ControlError {
            return error.json.serialized + "\n"
        } catch {
            return ControlError(.internalError, "\(error)").json.serialized + "\n"
        }
    }

    func run(on daemon: Daemon) throws -> JSONValue {
        switch self {
        case .stats: return daemon.statsReply()
        case .help: return .object([("commands", .object(Self.helpText.map { ($0.0, .string($0.1)) }))])
        case .metrics: return .null
        case .checkpoint:
            let files = try daemon.runAdministration { try daemon.checkpoint() }
            return .object([("files", .array(files.map { .string($0) }))])
        case .reload:
            let result = try daemon.reload()
            return .object([("reloaded", .bool(true)), ("pipelines", .array(result.pipelines.map { .string($0) })),
                            ("restart_needed", .array(result.restartNeeded.map { .string($0) }))])
        case .show(let name, let key):
            let pipeline = try daemon.requirePipeline(name)
            return try daemon.showReply(pipeline, key: key)
        case .mode(let name, let mode):
            let pipeline = try daemon.requirePipeline(name)
            pipeline.state.mode = mode
            daemon.logger.notice("pipeline \(name) switched to \(mode.rawValue) mode")
            return .object([("pipeline", .string(name)), ("mode", .string(mode.rawValue))])
        case .reset(let name, let key):
            let pipeline = try daemon.requirePipeline(name)
            let store = pipeline.state.store
            if let key {
                guard store.reset(key) else { throw ControlError(.unknownKey, "pipeline \(name) has no key \(JSONValue.string(key).serialized)") }
            } else {
                store.resetAll()
            }
            return .object([("pipeline", .string(name)), ("reset", .array((key.map { [$0] } ?? store.keys).map { .string($0) }))])
        }
    }
}

/// A control command's failure, answered as `{"error": CODE, "detail": TEXT}`.
public struct ControlError: Error, Sendable, Equatable {
    public enum Code: String, Sendable {
        case unknownCommand = "unknown_command", unknownPipeline = "unknown_pipeline", unknownKey = "unknown_key"
        case badArgument = "bad_argument", config, internalError = "internal"
    }
    public let code: Code
    public let detail: String
    public init(_ code: Code, _ detail: String) {
        self.code = code
        self.detail = detail
    }
    var json: JSONValue { .object([("error", .string(code.rawValue)), ("detail", .string(detail))]) }
}
