import Foundation
import NormCore
import NormFormats

/// One control-socket command line, parsed: words separated by single spaces, a word that is
/// empty or holds spaces written as a JSON string.
public enum ControlCommand: Equatable, Sendable {
    case stats, help, checkpoint, reload, metrics
    case show(pipeline: String, key: String?, limit: Int? = nil, after: String? = nil)
    case mode(pipeline: String, NormMode)
    case reset(pipeline: String, key: String?)
    case drift(pipeline: String)

    public static let helpText: [(String, String)] = [
        ("stats", "counters per pipeline: received, published, rejected, dropped, in flight, bytes, batches/s, latency"),
        ("show PIPELINE [KEY] [--limit N] [--after KEY]", "kind, mode and running statistics per key, in pages with --limit"),
        ("drift PIPELINE", "keys by drift score, highest first"),
        ("mode PIPELINE train|eval", "switch the mode"),
        ("reset PIPELINE [KEY]", "running statistics back to their initial values"),
        ("checkpoint", "write the state now"),
        ("reload", "reread the configuration, as SIGHUP"),
        ("metrics", "Prometheus text exposition"),
        ("help", "this list"),
    ]

    public static func parse(_ line: String) throws(ControlError) -> ControlCommand {
        let tokens = try tokenize(line)
        guard let verb = tokens.first?.word else { throw ControlError(.unknownCommand, "empty command; try help") }
        if verb == "show" { return try parseShow(Array(tokens.dropFirst())) }
        let args = tokens.dropFirst().map(\.word)
        func arity(_ range: ClosedRange<Int>, _ usage: String) throws(ControlError) {
            guard range.contains(args.count) else { throw ControlError(.badArgument, "usage: \(usage)") }
        }
        switch verb {
        case "stats":
            try arity(0...0, "stats")
            return .stats
        case "help":
            try arity(0...0, "help")
            return .help
        case "checkpoint":
            try arity(0...0, "checkpoint")
            return .checkpoint
        case "reload":
            try arity(0...0, "reload")
            return .reload
        case "metrics":
            try arity(0...0, "metrics")
            return .metrics
        case "drift":
            try arity(1...1, "drift PIPELINE")
            return .drift(pipeline: args[0])
        case "reset":
            try arity(1...2, "reset PIPELINE [KEY]")
            return .reset(pipeline: args[0], key: args.count > 1 ? args[1] : nil)
        case "mode":
            try arity(2...2, "mode PIPELINE train|eval")
            guard let mode = NormMode(rawValue: args[1]) else { throw ControlError(.badArgument, "mode must be train or eval, not \"\(args[1])\"") }
            return .mode(pipeline: args[0], mode)
        default: throw ControlError(.unknownCommand, "unknown command \"\(verb)\"; try help")
        }
    }

    /// `show PIPELINE [KEY] [--limit N] [--after KEY]`: a bare `--` word is an option; a key that
    /// starts with `--` is written as a JSON string.
    static func parseShow(_ tokens: [(word: String, quoted: Bool)]) throws(ControlError) -> ControlCommand {
        let usage = "usage: show PIPELINE [KEY] [--limit N] [--after KEY]"
        var positional: [String] = []
        var limit: Int?
        var after: String?
        var index = 0
        while index < tokens.count {
            let token = tokens[index]
            guard !token.quoted, token.word.hasPrefix("--") else {
                positional.append(token.word)
                index += 1
                continue
            }
            guard index + 1 < tokens.count else { throw ControlError(.badArgument, "\(token.word) needs a value; \(usage)") }
            let value = tokens[index + 1].word
            switch token.word {
            case "--limit":
                guard let n = Int(value), n > 0 else { throw ControlError(.badArgument, "--limit must be a positive whole number, not \"\(value)\"") }
                limit = n
            case "--after": after = value
            default: throw ControlError(.badArgument, "unknown option \(token.word); \(usage)")
            }
            index += 2
        }
        guard (1...2).contains(positional.count) else { throw ControlError(.badArgument, usage) }
        return .show(pipeline: positional[0], key: positional.count > 1 ? positional[1] : nil, limit: limit, after: after)
    }

    /// The words of a command line, each marked whether it was written as a JSON string.
    static func tokenize(_ line: String) throws(ControlError) -> [(word: String, quoted: Bool)] {
        var words: [(word: String, quoted: Bool)] = []
        var rest = Substring(line.hasSuffix("\r") ? String(line.dropLast()) : line)
        while !rest.isEmpty {
            if rest.first == "\"" {
                var index = rest.index(after: rest.startIndex)
                var escaped = false
                while index < rest.endIndex, escaped || rest[index] != "\"" {
                    escaped = !escaped && rest[index] == "\\"
                    index = rest.index(after: index)
                }
                guard index < rest.endIndex else { throw ControlError(.badArgument, "unterminated quoted word") }
                let literal = rest[...index]
                guard let word = (try? JSONParser.parse(String(literal)))?.stringValue else { throw ControlError(.badArgument, "bad quoted word \(literal)") }
                words.append((word, true))
                rest = rest[rest.index(after: index)...]
            } else {
                let end = rest.firstIndex(of: " ") ?? rest.endIndex
                words.append((String(rest[..<end]), false))
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
    public static func execute(_ line: String, on daemon: some ControlledDaemon) -> String {
        do {
            let command = try parse(line)
            switch command {
            case .metrics: return daemon.metricsText()
            case .show(let name, let key, let limit, let after):
                return try daemon.showReply(try daemon.requirePipeline(name), key: key, limit: limit, after: after)
            default: return try command.run(on: daemon).serialized + "\n"
            }
        } catch let error as ControlError {
            return error.json.serialized + "\n"
        } catch {
            return ControlError(.internalError, "\(error)").json.serialized + "\n"
        }
    }

    func run(on daemon: some ControlledDaemon) throws -> JSONValue {
        switch self {
        case .stats: return daemon.statsReply()
        case .help: return .object([("commands", .object(Self.helpText.map { ($0.0, .string($0.1)) }))])
        case .metrics, .show: return .null  // answered as text by execute
        case .checkpoint:
            let files = try daemon.checkpoint()
            return .object([("files", .array(files.map { .string($0) }))])
        case .reload:
            let result = try daemon.reload()
            return .object([
                ("reloaded", .bool(true)), ("pipelines", .array(result.pipelines.map { .string($0) })),
                ("restart_needed", .array(result.restartNeeded.map { .string($0) })),
            ])
        case .mode(let name, let mode):
            let pipeline = try daemon.requirePipeline(name)
            pipeline.state.mode = mode
            daemon.logger.notice("pipeline \(name) switched to \(mode.rawValue) mode")
            return .object([("pipeline", .string(name)), ("mode", .string(mode.rawValue))])
        case .drift(let name):
            return daemon.driftReply(try daemon.requirePipeline(name))
        case .reset(let name, let key):
            let pipeline = try daemon.requirePipeline(name)
            let store = pipeline.state.store
            let worker = pipeline.clusterWorker.withLock { $0 }
            let unknown = ControlError(.unknownKey, "pipeline \(name) has no key \(key.map { JSONValue.string($0).serialized } ?? "")")
            var known = true
            if let key {
                known = store.reset(key)
                // Cluster mode: the bucket may hold a key this instance has not loaded (another
                // instance's, or one whose state cannot be read).
                guard known || worker != nil else { throw unknown }
            } else {
                store.resetAll()
            }
            let keys = key.map { [$0] } ?? store.keys
            var reply: [(String, JSONValue)] = [("pipeline", .string(name)), ("reset", .array(keys.map { .string($0) }))]
            // Cluster mode: the bucket is the state of record; the worker writes the reset there
            // between two messages, or the next batch would carry on from the bucket's values.
            if let worker {
                guard let outcomes = worker.reset(keys) else {
                    daemon.logger.warning(
                        "reset not yet written to the bucket: the cluster worker is busy; it will be when it turns", metadata: ["pipeline": "\(name)"])
                    reply.append(("pending", .bool(true)))
                    return .object(reply)
                }
                // Not written to the state of record is not reset: the next batch would go on
                // from the bucket's values. Said, so the operator tries again.
                let failed = keys.compactMap { key in
                    if case .failed(let why) = outcomes[key] { return "\(JSONValue.string(key).serialized): \(why)" } else { return nil }
                }
                if !failed.isEmpty {
                    throw ControlError(.internalError, "reset not written; try again once the NATS server answers: \(failed.joined(separator: "; "))")
                }
                if !known && outcomes.values.allSatisfy({ $0 == .absent }) { throw unknown }
            }
            return .object(reply)
        }
    }
}
