import NormCore

extension ConfigurationLoader {
    static func readNorm(_ table: ConfigurationReader.Table, reader: ConfigurationReader) -> NormConfiguration {
        var norm = NormConfiguration()
        norm.kind = table.choice("kind", NormKind.batch)
        norm.channels = table.int("channels", 0)
        norm.groups = table.int("groups", 1, minimum: 1)
        norm.eps = table.double("eps", 1e-5, range: 0...1, exclusiveLower: true)
        if let node = table.node("momentum") {
            switch node {
            case .string("cumulative"): norm.momentum = .cumulative
            case .double(let m) where (0...1).contains(m): norm.momentum = .factor(m)
            case .int(let m) where (0...1).contains(m): norm.momentum = .factor(Double(m))
            default: reader.fail(table.key("momentum"), "expected a number in [0, 1] or \"cumulative\"")
            }
        }
        norm.affine = table.bool("affine", true)
        norm.mode = table.choice("mode", NormMode.train)
        norm.stats = table.choice("stats", StatsScope.perKey)
        norm.trackRunningStats = table.bool("track_running_stats", false)
        norm.initFile = table.string("init", "")
        norm.nonfinite = table.choice("nonfinite", NonFinitePolicy.reject)
        norm.maxKeys = table.int("max_keys", 0)
        norm.keyPolicy = table.choice("key_policy", KeyPolicy.reject)
        norm.variance = table.choice("variance", VarianceEstimator.biased)

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
        let keepsStatistics = norm.settings.hasRunningStatistics
        if !keepsStatistics {
            for name in ["momentum", "max_keys", "key_policy"] where table.has(name) {
                reader.warn(table.key(name), "does not apply to kind \"\(kind)\" without running statistics; ignored")
            }
        }
        if !norm.initFile.isEmpty && norm.channels == 0 {
            reader.fail(table.key("init"), "needs a fixed channels (channels = 0 learns them per key)")
        } else if !norm.initFile.isEmpty {
            do {
                _ = try InitFile.load(path: norm.initFile, norm: norm)
            } catch {
                reader.fail(table.key("init"), error.message)
            }
        }
        table.finish()
        return norm
    }
}

/// What a ZeroMQ endpoint string must look like for normd.
enum Endpoint {
    static func problem(_ endpoint: String, bind: Bool) -> String? {
        guard let separator = endpoint.range(of: "://") else { return "\"\(endpoint)\" is not a ZeroMQ address (tcp://, ipc:// or inproc://)" }
        let scheme = endpoint[..<separator.lowerBound], rest = String(endpoint[separator.upperBound...])
        switch scheme {
        case "ipc", "inproc":
            return rest.isEmpty ? "\"\(endpoint)\" has no path" : nil
        case "tcp":
            guard let colon = rest.lastIndex(of: ":"), !rest[..<colon].isEmpty else { return "\"\(endpoint)\" needs HOST:PORT" }
            let port = rest[rest.index(after: colon)...]
            if port == "*" && bind { return nil }
            guard let number = Int(port), (1...65_535).contains(number) else { return "\"\(endpoint)\" has no valid port" }
            return nil
        default:
            return "\"\(endpoint)\": transport \(scheme) is not supported (tcp, ipc, inproc)"
        }
    }
}

/// `127.0.0.1:9464`.
struct HostPort: Sendable, Equatable {
    let host: String
    let port: UInt16
    init?(_ text: String) {
        guard let colon = text.lastIndex(of: ":"), let port = UInt16(text[text.index(after: colon)...]), port > 0 else { return nil }
        host = String(text[..<colon])
        self.port = port
        if host.isEmpty { return nil }
    }
}
