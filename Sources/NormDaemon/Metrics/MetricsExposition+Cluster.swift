import NormCluster
import Synchronization

extension MetricsExposition {
    /// Cluster mode: partitions owned and the JetStream counters of pipelines with a JetStream
    /// input (nothing when there is none).
    static func renderCluster(_ pipelines: [(Pipeline, PipelineCounters.Snapshot)], into out: inout String) {
        let clustered = pipelines.compactMap { p, _ in p.clusterCounters.withLock { $0 }.map { (labelValue(p.configuration.name), $0) } }
        guard !clustered.isEmpty else { return }
        out += "# HELP normd_partitions_owned Input partitions this instance holds the pin of (JetStream input).\n# TYPE normd_partitions_owned gauge\n"
        for (name, c) in clustered { out += "normd_partitions_owned{pipeline=\"\(name)\"} \(c.partitionsOwned.count)\n" }
        let counters: [(String, String, (ClusterCounters) -> Int)] = [
            ("normd_redeliveries_total", "Inputs the server delivered again.", { $0.redeliveries.load(ordering: .relaxed) }),
            (
                "normd_duplicates_skipped_total", "Redelivered inputs already applied: published again for the server to drop, nothing else.",
                { $0.duplicatesSkipped.load(ordering: .relaxed) }
            ),
            (
                "normd_cas_conflicts_total", "Key-state writes the bucket refused because another instance owns the key.",
                { $0.conflicts.load(ordering: .relaxed) }
            ),
        ]
        for (family, help, value) in counters {
            out += "# HELP \(family) \(help)\n# TYPE \(family) counter\n"
            for (name, c) in clustered { out += "\(family){pipeline=\"\(name)\"} \(value(c))\n" }
        }
    }
}
