import Foundation

/// Draws one `normd top` screen from two samples (rates are their difference): a line per
/// pipeline, a sparkline of its output rate, rejections and drops by reason, and its
/// worst-drifting keys. Pure text, so the plain snapshot and the live view are the same drawing.
public struct TopRenderer: Sendable {
    /// How drifting keys are listed.
    public enum KeyOrder: String, Sendable { case score, name }

    public var keyOrder: KeyOrder = .score
    public var width = 100
    /// Drifting keys shown per pipeline.
    public var keysShown = 5
    /// Whether the keys line at the top offers the interactive keys.
    public var interactive = false

    public init() {}

    static let bars = Array("▁▂▃▄▅▆▇█")

    /// A sparkline of `values`, scaled to their maximum.
    static func sparkline(_ values: [Double]) -> String {
        let top = values.max() ?? 0
        guard top > 0 else { return String(repeating: String(bars[0]), count: values.count) }
        return String(values.map { bars[min(bars.count - 1, Int(($0 / top * Double(bars.count - 1)).rounded()))] })
    }

    static func duration(_ seconds: Double) -> String {
        let s = Int(seconds)
        if s >= 86_400 { return "\(s / 86_400)d\(s % 86_400 / 3600)h" }
        if s >= 3600 { return "\(s / 3600)h\(String(format: "%02d", s % 3600 / 60))m" }
        return "\(s / 60)m\(String(format: "%02d", s % 60))s"
    }

    static func number(_ value: Double?, _ digits: Int = 1) -> String { value.map { String(format: "%.\(digits)f", $0) } ?? "-" }

    /// `text` with every control character (C0, DEL, C1) written as `\u{XX}`. Keys come from
    /// producers: a key holding an escape sequence must not reach the operator's terminal, where
    /// it could move the cursor, retitle the window or set the clipboard.
    static func printable(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: { $0.isControlCharacter }) else { return text }
        var out = ""
        for scalar in text.unicodeScalars {
            if scalar.isControlCharacter {
                out += "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    static func column(_ text: String, _ width: Int) -> String {
        text.count >= width ? String(text.prefix(width - 1)) + " " : text + String(repeating: " ", count: width - text.count)
    }

    /// One screen. `previous` gives the rates (none on the first screen); `history` the recent
    /// output rates per pipeline, oldest first.
    public func render(_ sample: TopSample, previous: TopSample?, history: [String: [Double]]) -> String {
        var out = "normd top — up \(Self.duration(sample.uptime)), \(sample.pipelines.count) pipeline\(sample.pipelines.count == 1 ? "" : "s")"
        if interactive { out += " — q quits, s sorts keys (now by \(keyOrder.rawValue))" }
        out += "\n\n"
        let headers = [("PIPELINE", 14), ("MODE", 7), ("IN/s", 10), ("OUT/s", 10), ("GB/s", 7), ("p50 ms", 8), ("p99 ms", 8), ("IN FLIGHT", 10), ("KEYS", 7)]
        out += headers.map { Self.column($0.0, $0.1) }.joined() + "\n"
        let elapsed = previous.map { sample.takenAt - $0.takenAt } ?? 0
        for p in sample.pipelines {
            let before = previous?.pipelines.first { $0.name == p.name }
            func rate(_ now: Int, _ then: Int?) -> Double? {
                guard let then, elapsed > 0 else { return nil }
                return Double(max(0, now - then)) / elapsed
            }
            let inRate = rate(p.received, before?.received)
            let outRate = rate(p.published, before?.published)
            let gbps = rate(p.bytesOut, before?.bytesOut).map { $0 / 1e9 }
            let cells = [
                (Self.printable(p.name), 14), (Self.printable(p.mode), 7), (Self.number(inRate), 10), (Self.number(outRate), 10), (Self.number(gbps, 2), 7),
                (Self.number(p.latencyP50, 2), 8), (Self.number(p.latencyP99, 2), 8), ("\(p.inFlight)", 10), ("\(p.keys)", 7),
            ]
            out += cells.map { Self.column($0.0, $0.1) }.joined() + "\n"
            if let recent = history[p.name], !recent.isEmpty {
                out += "  out/s \(Self.sparkline(recent)) (last \(recent.count) s, peak \(Self.number(recent.max())))\n"
            }
            let rejected = p.rejected.filter { $0.1 > 0 }.map { "\($0.0) \($0.1)" }
            let dropped = p.dropped.filter { $0.1 > 0 }.map { "\($0.0) \($0.1)" }
            out += "  rejected: \(rejected.isEmpty ? "none" : rejected.joined(separator: ", "))"
            out += "   dropped: \(dropped.isEmpty ? "none" : dropped.joined(separator: ", "))\n"
            if p.drift != "off" {
                var keys = p.driftKeys
                if keyOrder == .name { keys.sort { Array($0.key.utf8).lexicographicallyPrecedes(Array($1.key.utf8)) } }
                out +=
                    "  drift (\(Self.printable(p.drift))), \(keys.isEmpty ? "no key scored yet" : "worst \(min(keysShown, keys.count)) of \(keys.count) keys"):\n"
                for key in keys.prefix(keysShown) {
                    out +=
                        "    \(Self.column(Self.printable(key.key), 24))score \(Self.column(Self.number(key.score, 2), 7))channel \(Self.column("\(key.channel)", 5))"
                    out += "\(key.alarm ? "ALARM" : "")\n"
                }
            }
            out += "\n"
        }
        return out.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            line.count > width ? String(line.prefix(width)) : String(line)
        }.joined(separator: "\n")
    }
}
