import Foundation
import NormFormats

/// The Prometheus text exposition format (version 0.0.4) of the daemon's counters.
public enum MetricsExposition {
    public static func render(_ daemon: Daemon) -> String {
        var out = ""
        func family(_ name: String, _ type: String, _ help: String) { out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n" }
        let pipelines = daemon.pipelines.map { ($0, $0.state.counters.snapshot()) }
        family("normd_uptime_seconds", "gauge", "Seconds since the daemon started.")
        out += "normd_uptime_seconds \(daemon.uptime)\n"
        renderDaemon(daemon, into: &out)
        family("normd_pipeline_info", "gauge", "One series per pipeline naming its kind and current mode.")
        for (p, _) in pipelines {
            out +=
                "normd_pipeline_info{pipeline=\"\(labelValue(p.configuration.name))\",kind=\"\(p.configuration.norm.kind.rawValue)\",mode=\"\(p.state.mode.rawValue)\"} 1\n"
        }
        let counters: [(String, String, (PipelineCounters.Snapshot) -> Int)] = [
            ("normd_received_total", "Messages received on the input.", { $0.received }),
            ("normd_published_total", "Normalized batches handed to the output.", { $0.published }),
            ("normd_received_bytes_total", "Bytes received (all frames).", { $0.bytesIn }),
            ("normd_published_bytes_total", "Bytes published (all frames).", { $0.bytesOut }),
        ]
        for (name, help, value) in counters {
            family(name, "counter", help)
            for (p, s) in pipelines { out += "\(name){pipeline=\"\(labelValue(p.configuration.name))\"} \(value(s))\n" }
        }
        family("normd_rejected_total", "counter", "Messages refused, by reason.")
        for (p, s) in pipelines {
            for reason in RejectReason.allCases {
                out += "normd_rejected_total{pipeline=\"\(labelValue(p.configuration.name))\",reason=\"\(reason.rawValue)\"} \(s.rejected[reason] ?? 0)\n"
            }
        }
        family("normd_dropped_total", "counter", "Accepted batches not delivered, by reason.")
        for (p, s) in pipelines {
            for reason in Set(["when_full", "shutdown", "error"]).union(s.dropped.keys).sorted() {
                out += "normd_dropped_total{pipeline=\"\(labelValue(p.configuration.name))\",reason=\"\(reason)\"} \(s.dropped[reason] ?? 0)\n"
            }
        }
        family("normd_dead_letters_total", "counter", "Dead letters sent or dropped because the dead-letter socket was full.")
        for (p, s) in pipelines {
            out += "normd_dead_letters_total{pipeline=\"\(labelValue(p.configuration.name))\",result=\"sent\"} \(s.deadLettersSent)\n"
            out += "normd_dead_letters_total{pipeline=\"\(labelValue(p.configuration.name))\",result=\"dropped\"} \(s.deadLettersDropped)\n"
        }
        family("normd_in_flight", "gauge", "Batches being normalized or waiting for the output.")
        for (p, s) in pipelines { out += "normd_in_flight{pipeline=\"\(labelValue(p.configuration.name))\"} \(s.inFlight)\n" }
        family("normd_keys", "gauge", "Stream keys with state.")
        for (p, _) in pipelines { out += "normd_keys{pipeline=\"\(labelValue(p.configuration.name))\"} \(p.state.store.count)\n" }
        family("normd_batch_latency_seconds", "histogram", "From receipt to hand-off to the output socket.")
        for (p, s) in pipelines {
            let name = labelValue(p.configuration.name)
            var cumulative = 0
            for (i, bound) in PipelineCounters.latencyBoundsMs.enumerated() {
                cumulative += s.latencyBuckets[i]
                out += "normd_batch_latency_seconds_bucket{pipeline=\"\(name)\",le=\"\(bound / 1000)\"} \(cumulative)\n"
            }
            cumulative += s.latencyBuckets.last ?? 0
            out += "normd_batch_latency_seconds_bucket{pipeline=\"\(name)\",le=\"+Inf\"} \(cumulative)\n"
            out += "normd_batch_latency_seconds_sum{pipeline=\"\(name)\"} \(s.latencySumMs / 1000)\n"
            out += "normd_batch_latency_seconds_count{pipeline=\"\(name)\"} \(cumulative)\n"
        }
        let settings = daemon.configuration.daemon
        renderDrift(pipelines, keyLimit: settings.metricsKeyLimit, into: &out)
        renderCluster(pipelines, into: &out)
        family("normd_metrics_key_series_omitted", "gauge", "Keys given no per-key series because of daemon.metrics_key_limit.")
        for (p, _) in pipelines {
            let omitted = settings.metricsKeyStatistics ? max(0, p.state.store.count - settings.metricsKeyLimit) : 0
            out += "normd_metrics_key_series_omitted{pipeline=\"\(labelValue(p.configuration.name))\"} \(omitted)\n"
        }
        if settings.metricsKeyStatistics {
            family("normd_running_mean", "gauge", "running_mean per pipeline, key and channel (the first metrics_key_limit keys in byte order).")
            var variances = ""
            var tracked = ""
            for (p, _) in pipelines {
                for (key, entry) in p.state.store.page(after: nil, limit: settings.metricsKeyLimit).entries {
                    guard let stats = entry.statistics else { continue }
                    let labels = "pipeline=\"\(labelValue(p.configuration.name))\",key=\"\(labelValue(key))\""
                    for c in 0..<stats.channels {
                        out += "normd_running_mean{\(labels),channel=\"\(c)\"} \(stats.mean[c])\n"
                        variances += "normd_running_var{\(labels),channel=\"\(c)\"} \(stats.variance[c])\n"
                    }
                    tracked += "normd_num_batches_tracked{\(labels)} \(stats.batchesTracked)\n"
                }
            }
            family("normd_running_var", "gauge", "running_var per pipeline, key and channel.")
            out += variances
            family("normd_num_batches_tracked", "gauge", "num_batches_tracked per pipeline and key.")
            out += tracked
        }
        return out
    }
}
