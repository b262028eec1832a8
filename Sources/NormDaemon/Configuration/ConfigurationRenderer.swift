/// Prints a configuration as TOML with every default filled in, the form `check-config` shows.
public enum ConfigurationRenderer {
    public static func render(_ configuration: Configuration) -> String {
        var out = "[daemon]\n"
        let d = configuration.daemon
        line(&out, "control_socket", quote(d.controlSocket))
        line(&out, "state_dir", quote(d.stateDir))
        line(&out, "checkpoint_interval_s", number(d.checkpointIntervalS))
        line(&out, "threads", "\(d.threads)")
        line(&out, "log_level", quote(d.logLevel))
        line(&out, "control_group", quote(d.controlGroup))
        line(&out, "shutdown_timeout_s", number(d.shutdownTimeoutS))
        line(&out, "metrics_listen", quote(d.metricsListen))
        line(&out, "metrics_key_statistics", "\(d.metricsKeyStatistics)")
        line(&out, "metrics_key_limit", "\(d.metricsKeyLimit)")
        for p in configuration.pipelines {
            out += "\n[[pipeline]]\n"
            line(&out, "name", quote(p.name))
            out += "\n[pipeline.input]\n"
            line(&out, "socket", quote(p.input.socket.rawValue))
            line(&out, "connect", list(p.input.connect))
            line(&out, "bind", list(p.input.bind))
            line(&out, "topics", list(p.input.topics))
            line(&out, "hwm", "\(p.input.hwm)")
            line(&out, "max_message_bytes", "\(p.input.maxMessageBytes)")
            if let curve = p.input.curve { renderCurve(&out, curve, table: "pipeline.input.curve") }
            out += "\n[pipeline.output]\n"
            line(&out, "socket", quote(p.output.socket.rawValue))
            line(&out, "connect", list(p.output.connect))
            line(&out, "bind", list(p.output.bind))
            line(&out, "hwm", "\(p.output.hwm)")
            line(&out, "topic", quote(p.output.topic))
            line(&out, "dtype", quote(p.output.dtype?.rawValue ?? "same"))
            line(&out, "dead_letter", quote(p.output.deadLetter))
            line(&out, "when_full", quote(p.output.whenFull.rawValue))
            if let curve = p.output.curve { renderCurve(&out, curve, table: "pipeline.output.curve") }
            let n = p.norm
            out += "\n[pipeline.norm]\n"
            line(&out, "kind", quote(n.kind.rawValue))
            line(&out, "channels", "\(n.channels)")
            line(&out, "groups", "\(n.groups)")
            line(&out, "eps", number(n.eps))
            switch n.momentum {
            case .factor(let m): line(&out, "momentum", number(m))
            case .cumulative: line(&out, "momentum", quote("cumulative"))
            }
            line(&out, "affine", "\(n.affine)")
            line(&out, "mode", quote(n.mode.rawValue))
            line(&out, "stats", quote(n.stats.rawValue))
            line(&out, "track_running_stats", "\(n.trackRunningStats)")
            line(&out, "init", quote(n.initFile))
            line(&out, "nonfinite", quote(n.nonfinite.rawValue))
            line(&out, "max_keys", "\(n.maxKeys)")
            line(&out, "key_policy", quote(n.keyPolicy.rawValue))
            line(&out, "variance", quote(n.variance.rawValue))
        }
        return out
    }

    private static func renderCurve(_ out: inout String, _ curve: CurveSettings, table: String) {
        out += "\n[\(table)]\n"
        line(&out, "secret_key_file", quote(curve.secretKeyFile))
        line(&out, "allow", list(curve.allow))
        line(&out, "allow_dir", quote(curve.allowDir))
        line(&out, "server_public_key", quote(curve.serverPublicKey))
    }

    private static func line(_ out: inout String, _ key: String, _ value: String) { out += "\(key) = \(value)\n" }
    private static func quote(_ s: String) -> String {
        var out = ""
        JSONValue.writeString(s, to: &out)  // a JSON string is a valid TOML basic string
        return out
    }
    private static func list(_ items: [String]) -> String { "[" + items.map(quote).joined(separator: ", ") + "]" }
    private static func number(_ d: Double) -> String {
        d == d.rounded() && abs(d) < 1e15 ? String(format: d) : "\(d)"
    }
    private static func String(format d: Double) -> Swift.String { "\(Int64(d)).0" }
}
