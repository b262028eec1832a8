import Foundation
import NormDaemon
import NormFormats
import Testing

@Suite("Command-line output for scripts")
struct ScriptOutputTests {
    @Test("check-config --quiet prints nothing for a valid file and only errors, sorted by line, for a bad one")
    func quietCheckConfig() throws {
        let directory = DaemonProcess.makeDirectory()
        let good = directory.appendingPathComponent("good.toml").path
        try minimalPipeline.replacingOccurrences(of: "{dir}", with: directory.path).write(toFile: good, atomically: true, encoding: .utf8)
        let ok = try runNormd(["check-config", "--quiet", good])
        #expect(ok.status == 0 && ok.stdout.isEmpty && ok.stderr.isEmpty, "\(ok)")
        let bad = directory.appendingPathComponent("bad.toml").path
        // The loader reads [daemon] (line 13) before the pipelines (lines 7 and 11); the output is by line.
        try """
        [[pipeline]]
        name = "p"
        [pipeline.input]
        bind = ["ipc://\(directory.path)/in"]
        [pipeline.output]
        bind = ["ipc://\(directory.path)/out"]
        colour = "blue"
        [pipeline.norm]
        kind = "group"
        channels = 6
        groups = 4
        [daemon]
        threads = "two"
        """.write(toFile: bad, atomically: true, encoding: .utf8)
        let refused = try runNormd(["check-config", "--quiet", bad])
        #expect(refused.status == 78 && refused.stdout.isEmpty)
        let lines = refused.stderr.split(separator: "\n").map { Int($0.split(separator: ":")[1]) ?? 0 }
        #expect(lines == [7, 11, 13], "\(refused.stderr)")
    }

    @Test("bench --json prints one JSON line on stdout and nothing else")
    func benchJSON() throws {
        let result = try runNormd(["bench", "--json", "--no-forwarder", "--rounds", "1", "--duration", "0.5", "--shape", "2,4,2", "--in-flight", "8"])
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n")
        #expect(lines.count == 1)
        let report = try JSONParser.parse(String(lines.first ?? ""))
        #expect(report["normd"]?["batches_per_s"]?.doubleValue ?? 0 > 0)
        // The driver alone is measured too, and normd's figure says whether it is bound by it.
        #expect(report["driver"]?["batches_per_s"]?.doubleValue ?? 0 > 0)
        #expect(report["normd"]?["driver_bound"] == .bool(true) || report["normd"]?["driver_bound"] == .bool(false))
        // Latency comes from the send time the producer writes into the header and the daemon
        // passes through: both figures must have found it.
        for target in ["driver", "normd"] {
            let p50 = report[target]?["p50_ms"]?.doubleValue ?? .nan
            #expect(p50 > 0 && p50 < 10_000, "\(target) p50 \(p50) ms")
        }
    }
}
