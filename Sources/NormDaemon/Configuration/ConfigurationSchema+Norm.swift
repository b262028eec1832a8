import NormCore

extension ConfigurationSchema {
    static var norm: ConfigurationSection<NormConfiguration> {
        var section = ConfigurationSection<NormConfiguration>(
            table: "pipeline.norm",
            keys: [
                .choice("kind", \.kind, choices(NormKind.self)),
                .int(
                    "channels", \.channels, maximum: NormConfiguration.maxChannels, example: "64",
                    "0 = learned per key from its first batch; at most \(NormConfiguration.maxChannels)"),
                .int("groups", \.groups, minimum: 1, example: "8", "group only; must divide channels"),
                .double("eps", \.eps, range: 0...1, exclusiveLower: true, "added to the variance"),
                ConfigurationKey(
                    name: "momentum", doc: "or \"cumulative\" (PyTorch's momentum=None)", example: nil,
                    read: { table, norm in
                        guard let node = table.node("momentum") else { return }
                        switch node {
                        case .string("cumulative"): norm.momentum = .cumulative
                        case .double(let m) where (0...1).contains(m): norm.momentum = .factor(m)
                        case .int(let m) where (0...1).contains(m): norm.momentum = .factor(Double(m))
                        default: table.reader.fail(table.key("momentum"), "expected a number in [0, 1] or \"cumulative\"")
                        }
                    },
                    render: { norm in
                        switch norm.momentum {
                        case .factor(let m): TOMLText.number(m)
                        case .cumulative: TOMLText.quote("cumulative")
                        }
                    }),
                .bool("affine", \.affine, "learnable weight and bias (identity unless init or a state file sets them)"),
                .choice("mode", \.mode, choices(NormMode.self)),
                .choice("stats", \.stats, choices(StatsScope.self)),
                .bool("track_running_stats", \.trackRunningStats, "instance only"),
                ConfigurationKey(
                    name: "init", doc: "optional safetensors file: weight, bias, running_mean, running_var, num_batches_tracked",
                    example: nil, read: readInit, render: { TOMLText.quote($0.initFile) }),
                .choice("nonfinite", \.nonfinite, choices(NonFinitePolicy.self)),
                .int("max_keys", \.maxKeys, "kinds with running statistics; 0 = unlimited"),
                .choice("key_policy", \.keyPolicy, "at max_keys: \"reject\" new keys, or \"evict_lru\""),
                .choice("variance", \.variance, "\"biased\" (torch.nn) | \"unbiased\" (hand-written layers that call x.var())"),
                .choice("drift", \.drift, "\"off\" | \"observe\" (score only) | \"alarm\" (score, log, counter); kinds with running statistics"),
                .double(
                    "drift_threshold", \.driftThreshold, range: 0...1000, exclusiveLower: true,
                    "drift score (running σ of mean shift) at which an alarm begins; it ends below ¾ of it"),
                .double(
                    "drift_variance_threshold", \.driftVarianceThreshold, range: 0...100, exclusiveLower: true,
                    "|ln(batch variance ÷ running variance)| that scores as much as drift_threshold"),
                .double("drift_smoothing", \.driftSmoothing, range: 0...1, exclusiveLower: true, "weight of the newest batch in the drift averages"),
                .int("drift_warmup", \.driftWarmup, "batches a key's running statistics must have seen before its batches are scored"),
            ])
        section.check = checkNorm
        return section
    }

    /// `init`, read once (after kind and channels, which it is checked against).
    private static func readInit(_ table: ConfigurationReader.Table, _ norm: inout NormConfiguration) {
        norm.initFile = table.string("init", norm.initFile)
        guard !norm.initFile.isEmpty else { return }
        guard norm.channels > 0 else {
            table.reader.fail(table.key("init"), "needs a fixed channels (channels = 0 learns them per key)")
            return
        }
        do {
            norm.initValues = try InitFile.load(path: norm.initFile, norm: norm)
        } catch {
            table.reader.fail(table.key("init"), error.message)
        }
    }

    /// What depends on more than one norm key: the kind decides which keys apply.
    private static func checkNorm(_ table: ConfigurationReader.Table, _ norm: NormConfiguration) {
        let reader = table.reader
        let kind = norm.kind.rawValue
        if norm.kind == .group {
            if norm.channels > 0 && norm.channels % norm.groups != 0 {
                reader.fail(table.key("groups"), "\(norm.groups) does not divide channels \(norm.channels)")
            }
        } else if table.has("groups") {
            reader.warn(table.key("groups"), "does not apply to kind \"\(kind)\"; ignored")
        }
        if norm.trackRunningStats && norm.kind != .instance {
            reader.fail(table.key("track_running_stats"), "applies to kind \"instance\" only, not \"\(kind)\"")
        }
        if !norm.settings.hasRunningStatistics {
            for name in ["momentum", "max_keys", "key_policy", "drift", "drift_threshold", "drift_variance_threshold", "drift_smoothing", "drift_warmup"]
            where table.has(name) {
                reader.warn(table.key(name), "does not apply to kind \"\(kind)\" without running statistics; ignored")
            }
        }
    }
}
