extension MetricsExposition {
    /// Drift: the alarms counter for every pipeline (0 until one begins, and for pipelines that do
    /// not score drift) and the smoothed worst-channel score of the first `metrics_key_limit` keys
    /// (byte order) of pipelines that do.
    static func renderDrift(_ pipelines: [(Pipeline, PipelineCounters.Snapshot)], keyLimit: Int, into out: inout String) {
        out += "# HELP normd_drift_alarms_total Drift alarms begun (drift = \"alarm\").\n# TYPE normd_drift_alarms_total counter\n"
        for (p, s) in pipelines { out += "normd_drift_alarms_total{pipeline=\"\(labelValue(p.configuration.name))\"} \(s.driftAlarms)\n" }
        out += "# HELP normd_drift_score Smoothed worst-channel drift score per key (drift = \"observe\" or \"alarm\").\n"
        out += "# TYPE normd_drift_score gauge\n"
        for (p, _) in pipelines where p.configuration.norm.driftSettings != nil {
            let name = labelValue(p.configuration.name)
            for (key, entry) in p.state.store.page(after: nil, limit: keyLimit).entries {
                guard let drift = entry.drift else { continue }
                out += "normd_drift_score{pipeline=\"\(name)\",key=\"\(labelValue(key))\"} \(drift.score)\n"
            }
        }
    }

    /// A label value with `\`, `"` and newlines escaped.
    static func labelValue(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: "\\n")
    }
}
