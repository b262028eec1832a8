import Foundation
import NormFormats

/// One reading of the daemon for `normd top`: the `stats` reply and, per pipeline, the `drift`
/// reply, taken at one monotonic instant.
public struct TopSample: Sendable {
    public struct Pipeline: Sendable {
        public var name: String
        public var mode: String
        public var received = 0, published = 0, inFlight = 0, keys = 0
        public var bytesIn = 0, bytesOut = 0
        public var latencyP50: Double?, latencyP99: Double?
        public var rejected: [(String, Int)] = []
        public var dropped: [(String, Int)] = []
        /// "off" when the pipeline does not score drift.
        public var drift = "off"
        public var driftKeys: [(key: String, score: Double, channel: Int, alarm: Bool)] = []

        public init(name: String, mode: String) {
            self.name = name
            self.mode = mode
        }
    }

    public var uptime: Double
    public var pipelines: [Pipeline]
    /// Monotonic seconds when it was taken.
    public var takenAt: Double

    public init(uptime: Double, pipelines: [Pipeline], takenAt: Double) {
        self.uptime = uptime
        self.pipelines = pipelines
        self.takenAt = takenAt
    }

    /// Reads `stats` and `drift PIPELINE` from a control reply function (the socket, or a test's).
    public static func read(takenAt: Double, ask: ([String]) throws -> String) throws -> TopSample {
        let stats = try reply(to: ["stats"], ask)
        if let error = stats["error"]?.stringValue { throw TopError("stats: \(error): \(stats["detail"]?.stringValue ?? "")") }
        guard let listed = stats["pipelines"]?.objectValue else {
            throw TopError("the reply to stats has no \"pipelines\" object: is this normd's control socket?")
        }
        var pipelines: [Pipeline] = []
        for (name, value) in listed {
            var p = Pipeline(name: name, mode: value["mode"]?.stringValue ?? "")
            p.received = value["received"]?.intValue ?? 0
            p.published = value["published"]?.intValue ?? 0
            p.inFlight = value["in_flight"]?.intValue ?? 0
            p.keys = value["keys"]?.intValue ?? 0
            p.bytesIn = value["bytes_in"]?.intValue ?? 0
            p.bytesOut = value["bytes_out"]?.intValue ?? 0
            p.latencyP50 = value["latency_ms"]?["p50"]?.doubleValue
            p.latencyP99 = value["latency_ms"]?["p99"]?.doubleValue
            p.rejected = (value["rejected"]?.objectValue ?? []).compactMap { reason, count in count.intValue.map { (reason, $0) } }
            p.dropped = (value["dropped_by_reason"]?.objectValue ?? []).compactMap { reason, count in count.intValue.map { (reason, $0) } }
            let drift = try reply(to: ["drift", name], ask)
            p.drift = drift["drift"]?.stringValue ?? "off"
            p.driftKeys = (drift["keys"]?.arrayValue ?? []).compactMap { entry in
                guard let key = entry["key"]?.stringValue, let score = entry["score"]?.doubleValue else { return nil }
                return (key, score, entry["channel"]?.intValue ?? 0, entry["alarm"]?.boolValue ?? false)
            }
            pipelines.append(p)
        }
        return TopSample(uptime: stats["uptime_s"]?.doubleValue ?? 0, pipelines: pipelines, takenAt: takenAt)
    }

    private static func reply(to command: [String], _ ask: ([String]) throws -> String) throws -> JSONValue {
        let text = try ask(command)
        do {
            return try JSONParser.parse(Array(text.utf8))
        } catch {
            throw TopError("the reply to \(command.joined(separator: " ")) is not JSON (\(error)): is this normd's control socket?")
        }
    }
}

/// Why `normd top` cannot show the daemon.
public struct TopError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
