import Foundation
import NormDaemon
import NormFormats
import NormTestSupport
import Testing

@Suite("Metrics as Prometheus tools read them")
struct MetricsConventionsTests {
    /// Parses exposition text with prometheus_client's own parser; returns each sample's name,
    /// labels and value, and each family's type, as JSON.
    static func parse(_ text: String) throws -> JSONValue {
        let script = """
            import json, sys
            from prometheus_client.parser import text_string_to_metric_families
            families = list(text_string_to_metric_families(sys.stdin.read()))
            print(json.dumps({"types": {f.name: f.type for f in families},
                              "samples": [[s.name, s.labels, s.value] for f in families for s in f.samples]}))
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script]
        let input = Pipe()
        let output = Pipe()
        let errors = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        input.fileHandleForWriting.write(Data(text.utf8))
        try input.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let problems = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw TestFailure("prometheus_client refused the text: \(String(decoding: problems, as: UTF8.self))") }
        return try JSONParser.parse(Array(data))
    }

    static func value(_ parsed: JSONValue, _ name: String, _ labels: [String: String] = [:]) -> Double? {
        parsed["samples"]?.arrayValue?.first { sample in
            sample.arrayValue?[0].stringValue == name
                && labels.allSatisfy { sample.arrayValue?[1][$0.key]?.stringValue == $0.value }
        }?.arrayValue?[2].doubleValue
    }

    @Test("every family from the first scrape, with conventional names and counters at 0; reload and checkpoint health move")
    func conventions() throws {
        let daemon = try DaemonProcess(pipelines: minimalPipeline)
        let first = try Self.parse(try daemon.ctlText("metrics"))
        let types = try #require(first["types"]?.objectValue).reduce(into: [String: String]()) { $0[$1.0] = $1.1.stringValue }
        let expected = [
            "normd_build_info": "gauge", "process_cpu_seconds": "counter", "process_resident_memory_bytes": "gauge",
            "process_open_fds": "gauge", "process_start_time_seconds": "gauge", "normd_pipeline_info": "gauge",
            "normd_received_bytes": "counter", "normd_published_bytes": "counter", "normd_received": "counter",
            "normd_rejected": "counter", "normd_dropped": "counter", "normd_config_last_reload_successful": "gauge",
            "normd_config_last_reload_success_timestamp_seconds": "gauge", "normd_checkpoint_last_success_timestamp_seconds": "gauge",
            "normd_checkpoint_failures": "counter", "normd_batch_latency_seconds": "histogram",
        ]
        for (name, type) in expected { #expect(types[name] == type, "\(name): \(types[name] ?? "missing")") }
        #expect(Self.value(first, "normd_build_info", ["version": BuildInfo.version]) == 1)
        #expect(Self.value(first, "normd_pipeline_info", ["pipeline": "p", "kind": "batch", "mode": "train"]) == 1)
        #expect(Self.value(first, "normd_received_total", ["pipeline": "p"]) == 0)
        #expect(Self.value(first, "normd_rejected_total", ["pipeline": "p", "reason": "frames"]) == 0)
        #expect(Self.value(first, "normd_checkpoint_failures_total") == 0)
        #expect(Self.value(first, "normd_config_last_reload_successful") == 1)
        #expect(Self.value(first, "normd_checkpoint_last_success_timestamp_seconds") == 0)
        #expect((Self.value(first, "process_open_fds") ?? 0) > 3)
        #expect((Self.value(first, "process_start_time_seconds") ?? 0) > Date().timeIntervalSince1970 - 600)

        // A failed reload and a checkpoint show within a scrape interval (renders are shared for a second).
        let config = try String(contentsOfFile: daemon.configPath, encoding: .utf8)
        try (config + "\nbogus = 1\n").write(toFile: daemon.configPath, atomically: true, encoding: .utf8)
        #expect(try daemon.ctl("reload")["error"] == .string("config"))
        _ = try daemon.ctl("checkpoint")
        #expect(
            try eventually(timeout: 30) {
                let now = try Self.parse(try daemon.ctlText("metrics"))
                return Self.value(now, "normd_config_last_reload_successful") == 0
                    && (Self.value(now, "normd_checkpoint_last_success_timestamp_seconds") ?? 0) > 0
            })
        #expect(daemon.stop() == 0)
    }
}
