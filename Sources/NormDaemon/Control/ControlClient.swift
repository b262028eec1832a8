import Foundation
import NormFormats

/// `normd ctl`: sends one command line and returns the daemon's whole answer.
public enum ControlClient {
    public enum Failure: Error, CustomStringConvertible {
        case unreachable(String)
        public var description: String {
            switch self {
            case .unreachable(let detail): detail
            }
        }
    }

    /// Joins words into a command line, quoting those that are empty or hold spaces as JSON strings.
    public static func commandLine(_ words: [String]) -> String {
        words.map { word in
            word.isEmpty || word.contains(" ") || word.hasPrefix("\"") ? JSONValue.string(word).serialized : word
        }.joined(separator: " ")
    }

    /// Sends one command and waits for the whole answer, at most `timeout` seconds in all.
    public static func send(_ words: [String], socket path: String, timeout: Double = 10) throws(Failure) -> String {
        let deadline = MonotonicClock.deadline(after: timeout)
        let fd: Int32
        do {
            fd = try UnixSocket.connect(path: path)
        } catch {
            throw .unreachable("\(error)")
        }
        defer { close(fd) }
        UnixSocket.writeAll(fd, commandLine(words) + "\n")
        guard let reply = UnixSocket.readAll(fd, deadline: deadline) else {
            throw .unreachable("no answer from the daemon at \(path) within \(timeout) s")
        }
        guard !reply.isEmpty else {
            throw .unreachable("the daemon at \(path) closed the connection without an answer (this user may not be allowed: control_group)")
        }
        return String(decoding: reply, as: UTF8.self)
    }

    /// An answer for a person: indented JSON, Prometheus text as is.
    public static func readable(_ reply: String) -> String {
        guard let value = try? JSONParser.parse(reply.trimmingCharacters(in: " \n")) else { return reply }
        var out = ""
        pretty(value, indent: "", into: &out)
        return out + "\n"
    }

    private static func pretty(_ value: JSONValue, indent: String, into out: inout String) {
        switch value {
        case .object(let members) where !members.isEmpty:
            out += "{\n"
            for (i, (key, item)) in members.enumerated() {
                out += indent + "  "
                JSONValue.writeString(key, to: &out)
                out += ": "
                pretty(item, indent: indent + "  ", into: &out)
                out += i == members.count - 1 ? "\n" : ",\n"
            }
            out += indent + "}"
        case .array(let items) where items.contains(where: { $0.objectValue != nil || $0.arrayValue != nil }):
            out += "[\n"
            for (i, item) in items.enumerated() {
                out += indent + "  "
                pretty(item, indent: indent + "  ", into: &out)
                out += i == items.count - 1 ? "\n" : ",\n"
            }
            out += indent + "]"
        default:
            value.write(to: &out)
        }
    }

    /// Whether a reply is an `{"error": ...}` document.
    public static func isError(_ reply: String) -> Bool {
        (try? JSONParser.parse(reply.trimmingCharacters(in: " \n")))?["error"] != nil
    }
}
