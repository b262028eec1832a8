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
        // CPU over the measured window: the daemon's per batch, the machine's busy share.
        #expect(report["normd"]?["cpu_us_per_batch"]?.doubleValue ?? 0 > 0)
        for target in ["driver", "normd"] {
            let busy = report[target]?["machine_busy"]?.doubleValue ?? .nan
            #expect(busy > 0 && busy <= 1, "\(target) machine busy \(busy)")
        }
        // Latency comes from the send time the producer writes into the header and the daemon
        // passes through: both figures must have found it.
        for target in ["driver", "normd"] {
            let p50 = report[target]?["p50_ms"]?.doubleValue ?? .nan
            #expect(p50 > 0 && p50 < 10_000, "\(target) p50 \(p50) ms")
        }
    }

    @Test("bench --kernel --json prints every kind at 1 and 2 threads for the shape asked, and a bad shape is refused")
    func kernelJSON() throws {
        let result = try runNormd(["bench", "--kernel", "--json", "--shape", "2,4,8,8", "--rounds", "1", "--duration", "0.01"])
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n")
        #expect(lines.count == 1)
        guard let rows = try JSONParser.parse(String(lines.first ?? ""))["kernel"]?.arrayValue else {
            Issue.record("no kernel rows: \(result.stdout)")
            return
        }
        let kinds = Set(rows.compactMap { $0["kind"]?.stringValue })
        #expect(kinds == ["batch train", "batch eval", "group (G=32)", "layer", "instance"])
        #expect(rows.count == 10 && Set(rows.compactMap { $0["threads"]?.doubleValue }) == [1, 2])
        for row in rows {
            #expect(row["shape"] == .array([.int(2), .int(4), .int(8), .int(8)]))
            #expect(row["gbps_median"]?.doubleValue ?? 0 > 0 && row["ratio_median"]?.doubleValue ?? 0 > 0, "\(row)")
        }
        let refused = try runNormd(["bench", "--kernel", "--shape", "2,x"])
        #expect(refused.status == 64 && refused.stderr.contains("--shape must be positive whole numbers"), "\(refused)")
    }

    @Test("bench --sweep prints a Markdown row per size and writes the JSON that scripts/plot-sweep draws")
    func sweep() throws {
        let directory = DaemonProcess.makeDirectory()
        let json = directory.appendingPathComponent("sweep.json").path
        let result = try runNormd(["bench", "--sweep", "--sweep-max", "1024", "--rounds", "1", "--duration", "0.3", "--sweep-json", json])
        #expect(result.status == 0, "\(result.stderr)")
        let rows = result.stdout.split(separator: "\n").filter { $0.hasPrefix("| 64 B") || $0.hasPrefix("| 1 KiB") }
        #expect(rows.count == 2, "\(result.stdout)")
        let report = try JSONParser.parse(String(decoding: try Data(contentsOf: URL(fileURLWithPath: json)), as: UTF8.self))
        let sizes = report["sizes"]?.arrayValue ?? []
        #expect(sizes.compactMap { $0["bytes"]?.intValue } == [64, 1024])
        for size in sizes {
            for target in ["normd", "forwarder", "driver"] { #expect(size[target]?["batches_per_s"]?.doubleValue ?? 0 > 0, "\(target)") }
            let ratio = size["ratio"]?.doubleValue ?? 0
            #expect(ratio > 0 && ratio < 100)
        }
        // The plot is made from that JSON by the committed script.
        let svg = directory.appendingPathComponent("sweep.svg").path
        let plot = Process()
        plot.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        plot.arguments = ["python3", ContribTests.root.appendingPathComponent("scripts/plot-sweep").path, json, svg]
        try plot.run()
        plot.waitUntilExit()
        #expect(plot.terminationStatus == 0)
        let drawn = (try? String(contentsOfFile: svg, encoding: .utf8)) ?? ""
        #expect(drawn.hasPrefix("<svg") && drawn.contains("polyline"))
    }

    @Test("bench --paced measures normd and the forwarder at a fraction of the forwarder's capacity and compares their p99")
    func paced() throws {
        let result = try runNormd(["bench", "--json", "--rounds", "1", "--duration", "0.5", "--shape", "2,4,2", "--in-flight", "16", "--paced", "0.5"])
        #expect(result.status == 0, "\(result.stderr)")
        let report = try JSONParser.parse(String(result.stdout.split(separator: "\n").first ?? ""))
        let forwarder = report["forwarder"]?["batches_per_s"]?.doubleValue ?? 0
        let paced = report["forwarder paced"]?["batches_per_s"]?.doubleValue ?? 0
        // The forwarder keeps up with half its capacity, so it delivers about what was offered.
        #expect(paced > 0.3 * forwarder && paced < 0.7 * forwarder, "paced \(paced) of \(forwarder)")
        #expect(report["normd paced"]?["p99_ms"]?.doubleValue ?? 0 > 0)
        #expect(report["ratio_p99_paced"]?.doubleValue ?? 0 > 0)
    }

    @Test("bench --python measures a pyzmq forwarder and a pyzmq + NumPy BatchNorm beside normd, and --kind other than batch is refused")
    func python() throws {
        let result = try runNormd([
            "bench", "--json", "--no-forwarder", "--python", "--rounds", "1", "--duration", "0.5", "--shape", "2,4,2", "--in-flight", "8",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        let report = try JSONParser.parse(String(result.stdout.split(separator: "\n").first ?? ""))
        for target in ["pyzmq forwarder", "pyzmq+numpy"] {
            #expect(report[target]?["batches_per_s"]?.doubleValue ?? 0 > 0, "\(target)")
            let p50 = report[target]?["p50_ms"]?.doubleValue ?? .nan
            #expect(p50 > 0 && p50 < 10_000, "\(target) p50 \(p50) ms")
        }
        #expect(report["ratio_to_pyzmq_forwarder"]?.doubleValue ?? 0 > 0)
        #expect(report["ratio_to_pyzmq_numpy"]?.doubleValue ?? 0 > 0)
        let refused = try runNormd(["bench", "--python", "--kind", "layer"])
        #expect(refused.status != 0 && refused.stderr.contains("--kind batch"), "\(refused.stderr)")
    }
}
