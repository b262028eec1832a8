import Foundation
import NormDaemon
import NormFormats
import NormTestSupport
import Testing

@Suite("Metrics rendering")
struct MetricsExpositionTests {
    /// The value of the one series named exactly `series` (name and labels).
    static func value(_ text: String, _ series: String) -> Double? {
        let lines = text.split(separator: "\n").filter { $0.hasPrefix(series + " ") }
        guard lines.count == 1 else { return nil }
        return Double(lines[0].dropFirst(series.count + 1))
    }

    @Test("counters, the rejection by reason, keys and the latency histogram follow the batches sent in")
    func countersFollowTraffic() async throws {
        let normd = try InProcessDaemon(pipelines: pipelineTOML(norm: "channels = 3"), daemon: "metrics_key_statistics = true")
        _ = try ControlRepliesTests.feed(normd, key: "cam0", batches: 3)
        let push = try normd.peers.socket(.push, connect: [normd.endpoint("bn", "in")])
        try push.send(frames: [Array("cam0".utf8), Array("not json".utf8), [0]])
        #expect(eventually { Self.value(normd.daemon.metricsTextUncached(), #"normd_rejected_total{pipeline="bn",reason="header"}"#) == 1 })
        let text = normd.daemon.metricsTextUncached()
        #expect(Self.value(text, #"normd_received_total{pipeline="bn"}"#) == 4)
        #expect(Self.value(text, #"normd_published_total{pipeline="bn"}"#) == 3)
        #expect(Self.value(text, #"normd_rejected_total{pipeline="bn",reason="nonfinite"}"#) == 0)
        #expect(Self.value(text, #"normd_in_flight{pipeline="bn"}"#) == 0)
        #expect(Self.value(text, #"normd_keys{pipeline="bn"}"#) == 1)
        #expect(Self.value(text, #"normd_batch_latency_seconds_count{pipeline="bn"}"#) == 3)
        #expect(Self.value(text, #"normd_batch_latency_seconds_bucket{pipeline="bn",le="+Inf"}"#) == 3)
        #expect(Self.value(text, #"normd_num_batches_tracked{pipeline="bn",key="cam0"}"#) == 3)
        try await normd.stop()
    }

    @Test("every family has one HELP and one TYPE, before its samples, and names are unique")
    func familiesAreWellFormed() async throws {
        let normd = try InProcessDaemon(pipelines: pipelineTOML("a") + "\n" + pipelineTOML("b", kind: "layer"))
        let text = normd.daemon.metricsTextUncached()
        var declared: [String] = []
        var typed: Set<String> = []
        for line in text.split(separator: "\n") {
            if line.hasPrefix("# HELP ") {
                declared.append(String(line.split(separator: " ")[2]))
            } else if line.hasPrefix("# TYPE ") {
                typed.insert(String(line.split(separator: " ")[2]))
            } else {
                let name = String(line.prefix { $0 != "{" && $0 != " " })
                let family = declared.last ?? ""
                #expect(name == family || name.hasPrefix(family + "_"), "\(name) outside its family \(family)")
            }
        }
        #expect(Set(declared).count == declared.count, "a family declared twice")
        #expect(Set(declared) == typed)
        #expect(Self.value(text, #"normd_pipeline_info{pipeline="b",kind="layer",mode="train"}"#) == 1)
        try await normd.stop()
    }

    @Test("label values are escaped: a pipeline name with a quote and a backslash")
    func escaping() async throws {
        let normd = try InProcessDaemon(pipelines: pipelineTOML().replacingOccurrences(of: "name = \"bn\"", with: #"name = "b\"n\\x""#))
        let text = normd.daemon.metricsTextUncached()
        #expect(text.contains(#"normd_received_total{pipeline="b\"n\\x"} 0"#))
        try await normd.stop()
    }
}
