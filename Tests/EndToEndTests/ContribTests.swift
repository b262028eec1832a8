import Foundation
import NormDaemon
import NormFormats
import NormTestSupport
import Testing

@Suite("contrib: the Grafana dashboard and the Prometheus alert rules")
struct ContribTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Parses both files (JSON, YAML) and prints every metric name their expressions use.
    static let script = """
        import json, re, sys, yaml
        dashboard = json.load(open(sys.argv[1]))
        rules = yaml.safe_load(open(sys.argv[2]))
        exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
        assert dashboard["title"] and all(p["title"] for p in dashboard["panels"])
        for group in rules["groups"]:
            for rule in group["rules"]:
                assert rule["alert"] and rule["labels"]["severity"] in ("warning", "critical") and rule["annotations"]["summary"], rule
                exprs.append(rule["expr"])
        names = set()
        for e in exprs:
            e = re.sub(r'"[^"]*"', '', e)
            e = re.sub(r"\\[[^\\]]*\\]", "", e)
            names |= {n for n in re.findall(r"\\b(normd_[a-z_]+|process_[a-z_]+)\\b", e)}
        print(json.dumps({"expressions": len(exprs), "names": sorted(names)}))
        """

    @Test("both parse, every rule has a severity and a summary, and every metric they name is one normd exports")
    func namesExist() throws {
        let daemon = try DaemonProcess(
            pipelines: pipelineTOML(norm: "drift = \"alarm\""), daemon: "metrics_key_statistics = true")
        let exported = Set(try daemon.ctlText("metrics").split(separator: "\n").filter { $0.hasPrefix("# TYPE ") }.map { String($0.split(separator: " ")[2]) })
        #expect(daemon.stop() == 0)
        let result = try runProcess(
            "/usr/bin/env",
            [
                "python3", "-c", Self.script, Self.root.appendingPathComponent("contrib/grafana/normd.json").path,
                Self.root.appendingPathComponent("contrib/prometheus/normd-alerts.yml").path,
            ])
        #expect(result.status == 0, "\(result.stderr)")
        let parsed = try JSONParser.parse(Array(result.stdout.utf8))
        let names = try #require(parsed["names"]?.arrayValue).compactMap(\.stringValue)
        #expect((parsed["expressions"]?.intValue ?? 0) > 15 && names.count > 15)
        for name in names {
            var family = name
            for suffix in ["_bucket", "_sum", "_count"] where family.hasSuffix(suffix) && !exported.contains(family) {
                family = String(family.dropLast(suffix.count))
            }
            #expect(exported.contains(family), "\(name) is not a metric normd exports")
        }
        for family in ["normd_drift_score", "normd_drift_alarms_total", "normd_rejected_total", "normd_dropped_total"] {
            #expect(names.contains(family), "the contrib files do not use \(family)")
        }
    }
}
