import Foundation
import Logging

/// normd's log lines on stderr, one line per event, written with one `write`:
/// - under systemd's journal (`JOURNAL_STREAM` names stderr), `<P>message key=value …` where `<P>`
///   is the syslog priority (`<4>` warning …), so `journalctl -p warning` selects by level, and no
///   timestamp (the journal keeps its own);
/// - otherwise logfmt: `ts=… level=… msg="…" key="value" …`, values quoted when they need it.
/// A newline inside a message or value is written as `\n`: an event never spans two lines.
public struct DaemonLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public let journal: Bool

    public init(journal: Bool) { self.journal = journal }

    /// Whether stderr is the journal's stream: `JOURNAL_STREAM=DEV:INODE` matches stderr's own.
    public static func stderrIsJournal(environment: [String: String] = ProcessInfo.processInfo.environment) -> Bool {
        guard let value = environment["JOURNAL_STREAM"] else { return false }
        var info = stat()
        guard fstat(STDERR_FILENO, &info) == 0 else { return false }
        return value == "\(info.st_dev):\(info.st_ino)"
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var line = format(level: event.level, message: "\(event.message)", metadata: metadata.merging(event.metadata ?? [:]) { $1 })
        line += "\n"
        line.withCString { _ = write(STDERR_FILENO, $0, strlen($0)) }
    }

    public func format(level: Logger.Level, message: String, metadata: Logger.Metadata, date: Date = Date()) -> String {
        let fields = metadata.sorted { $0.key < $1.key }.map { "\($0.key)=\(Self.value("\($0.value)"))" }
        if journal {
            return (["<\(Self.priority(level))>\(Self.escape(message))"] + fields).joined(separator: " ")
        }
        let time = date.formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted))
        return (["ts=\(time)", "level=\(level.rawValue)", "msg=\(Self.value(message))"] + fields).joined(separator: " ")
    }

    /// syslog priorities: 2 critical, 3 error, 4 warning, 5 notice, 6 info, 7 debug and trace.
    public static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .critical: 2
        case .error: 3
        case .warning: 4
        case .notice: 5
        case .info: 6
        case .debug, .trace: 7
        }
    }

    /// A logfmt value: bare when it can be, else quoted with `"`, `\` and control characters escaped.
    static func value(_ text: String) -> String {
        let bare = !text.isEmpty && text.unicodeScalars.allSatisfy { $0.value > 0x20 && $0 != "\"" && $0 != "=" && $0 != "\\" && !$0.isControlCharacter }
        return bare ? text : "\"" + escape(text).replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }

    /// Backslashes and control characters escaped, so the text stays on one line.
    static func escape(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.isControlCharacter { out += String(format: "\\u%04x", scalar.value) } else { out.unicodeScalars.append(scalar) }
            }
        }
        return out
    }
}
