import Foundation
import NATS
import NormCluster
import NormCore
import NormFormats
import ZeroMQ

/// Every configuration key, declared once (docs/configuration.md): the loader reads with these
/// sections, `check-config` renders the effective configuration with them, and config/normd.toml,
/// the commented example, is written from them (a test keeps it so).
enum ConfigurationSchema {
    static let logLevels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]

    static var daemon: ConfigurationSection<DaemonSettings> {
        ConfigurationSection(
            table: "daemon",
            keys: [
                .string(
                    "control_socket", \.controlSocket, example: "\"/run/normd/normd.sock\"",
                    "the control socket (mode 0660); default /run/normd/normd.sock for root, else $XDG_RUNTIME_DIR/normd/normd.sock or /tmp/normd-$UID/normd.sock",
                    check: { $0.isEmpty ? "must not be empty" : Endpoint.unixSocketPathProblem($0) }),
                .string(
                    "state_dir", \.stateDir, example: "\"/var/lib/normd\"",
                    "running-statistics checkpoints; default /var/lib/normd for root, else $XDG_STATE_HOME/normd"),
                .double("checkpoint_interval_s", \.checkpointIntervalS, range: 0...86_400, exclusiveLower: true, "seconds between checkpoints"),
                .int(
                    "threads", \.threads, maximum: DaemonSettings.maxThreads,
                    "workers per batch and per-key lanes; 0 = one per core; at most \(DaemonSettings.maxThreads)"),
                .string(
                    "log_level", \.logLevel, logLevels.joined(separator: ", "),
                    check: { logLevels.contains($0) ? nil : "\"\($0)\" is not one of \(logLevels.joined(separator: ", "))" }),
                .string(
                    "control_group", \.controlGroup, example: "\"normd-ctl\"",
                    "a group allowed on the control socket besides root and normd's own user (\"\" = none); it must exist",
                    check: { $0.isEmpty || getgrnam($0) != nil ? nil : "group \"\($0)\" does not exist (create it, e.g. groupadd --system \($0))" }),
                .double(
                    "shutdown_timeout_s", \.shutdownTimeoutS, range: 0...3600, exclusiveLower: true,
                    "bound on the graceful drain at SIGTERM, and again on ZeroMQ's teardown after it"),
                .string(
                    "metrics_listen", \.metricsListen, "HOST:PORT (e.g. \"127.0.0.1:9464\") to serve GET /metrics over HTTP; \"\" = off",
                    check: { $0.isEmpty || HostPort($0) != nil ? nil : "\"\($0)\" is not HOST:PORT" }),
                .bool("metrics_key_statistics", \.metricsKeyStatistics, "add running_mean/running_var gauges per key and channel (keys can be many)"),
                .int("metrics_key_limit", \.metricsKeyLimit, "with metrics_key_statistics: keys given series (byte order); the rest are counted"),
            ])
    }

    static var input: ConfigurationSection<InputSettings> {
        var section = ConfigurationSection<InputSettings>(
            table: "pipeline.input",
            keys: [
                .choice("socket", \.socket, example: "\"sub\"", choices(InputSocketKind.self)),
                .strings("connect", \.connect, example: "[\"tcp://127.0.0.1:5555\"]", "endpoints to connect to", check: { Endpoint.problem($0, bind: false) }),
                .strings("bind", \.bind, "endpoints to bind", check: { Endpoint.problem($0, bind: true) }),
                ConfigurationKey(
                    name: "topics", doc: "sub only, prefix match on frame 0", example: nil,
                    read: { table, input in
                        if table.has("topics") && input.socket != .sub { table.reader.warn(table.key("topics"), "applies to socket = \"sub\" only; ignored") }
                        input.topics = table.strings("topics", input.topics)
                    }, render: { TOMLText.list($0.topics) }),
                .int(
                    "hwm", \.hwm, maximum: Int(Int32.max),
                    "messages (at most \(Int32.max), ZeroMQ's limit); size it in bytes: hwm × batch size is the memory it may take"),
                .int("max_message_bytes", \.maxMessageBytes, minimum: 1, "also ZMQ_MAXMSGSIZE: ZeroMQ disconnects a peer that sends more"),
            ])
        section.check = { table, input in
            if input.socket != .jetstream { requireEndpoint(table, connect: input.connect, bind: input.bind) }
        }
        return section
    }

    /// The `[pipeline.input]` keys of `socket = "jetstream"` (contract section 8).
    static var jetStreamInput: ConfigurationSection<InputSettings> {
        var section = ConfigurationSection<InputSettings>(
            table: "pipeline.input",
            keys: [
                .string("url", \.url, "jetstream: the NATS server", check: natsURLProblem),
                .strings("urls", \.urls, "jetstream: several servers of one cluster (instead of url)", check: natsURLProblem),
                .string("stream", \.stream, "jetstream: the input stream, created when missing with subjects \"<subject_prefix>.*\""),
                .string("subject_prefix", \.subjectPrefix, "jetstream: producers publish a key's batches on \"<subject_prefix>.<key>\""),
                .int("partitions", \.partitions, minimum: 1, "jetstream: keys map to partitions by the server's partition() transform"),
                .double("ack_wait_s", \.ackWaitS, range: 0...3600, exclusiveLower: true, "jetstream: redelivery after this; shorter than owner_timeout_s"),
                .double("owner_timeout_s", \.ownerTimeoutS, range: 0...3600, exclusiveLower: true, "jetstream: a silent owner loses its partitions after this"),
            ])
        section.check = { table, input in
            guard input.socket == .jetstream else { return }
            var cluster = ClusterSettings(pipeline: "p", urls: input.servers)
            (cluster.inputStream, cluster.inputPrefix, cluster.partitions) = (input.stream, input.subjectPrefix, input.partitions)
            (cluster.ackWait, cluster.ownerTimeout) = (input.ackWaitS, input.ownerTimeoutS)
            if let problem = cluster.problem { table.reader.fail(table.path, problem) }
        }
        return section
    }

    /// The `[pipeline.output]` keys of `socket = "jetstream"`.
    static var jetStreamOutput: ConfigurationSection<OutputSettings> {
        var section = ConfigurationSection<OutputSettings>(
            table: "pipeline.output",
            keys: [
                .string("url", \.url, "jetstream: the NATS server", check: natsURLProblem),
                .strings("urls", \.urls, "jetstream: several servers of one cluster (instead of url)", check: natsURLProblem),
                .string("stream", \.stream, "jetstream: the output stream, created when missing with subjects \"<subject_prefix>.>\""),
                .string(
                    "subject_prefix", \.subjectPrefix,
                    "jetstream: outputs on \"<subject_prefix>.<key>\", rejected inputs on \"<subject_prefix>.rejected.<key>\""),
            ])
        section.check = { table, output in
            guard output.socket == .jetstream else { return }
            var cluster = ClusterSettings(pipeline: "p", urls: output.servers)
            (cluster.outputStream, cluster.outputPrefix) = (output.stream, output.subjectPrefix)
            if let problem = cluster.problem { table.reader.fail(table.path, problem) }
        }
        return section
    }

    static func natsURLProblem(_ url: String) -> String? {
        url.hasPrefix("nats://") || url.hasPrefix("tls://") ? nil : "\"\(URLCredentials.redacted(url: url))\" is not a nats:// or tls:// URL"
    }

    static var output: ConfigurationSection<OutputSettings> {
        var section = ConfigurationSection<OutputSettings>(
            table: "pipeline.output",
            keys: [
                .choice("socket", \.socket, example: "\"pub\"", choices(OutputSocketKind.self)),
                .strings("connect", \.connect, "endpoints to connect to", check: { Endpoint.problem($0, bind: false) }),
                .strings("bind", \.bind, example: "[\"tcp://127.0.0.1:5556\"]", "endpoints to bind", check: { Endpoint.problem($0, bind: true) }),
                .int("hwm", \.hwm, maximum: Int(Int32.max), "messages (at most \(Int32.max), ZeroMQ's limit)"),
                .string(
                    "topic", \.topic, "frame 0 of outputs; \"\" = the input key",
                    check: { $0.utf8.count > WireDecoder.maxKeyBytes ? "longer than \(WireDecoder.maxKeyBytes) bytes" : nil }),
                ConfigurationKey(
                    name: "dtype", doc: "\"same\" | " + choices(DType.self), example: nil,
                    read: { table, output in
                        let dtype = table.string("dtype", output.dtype?.rawValue ?? "same")
                        guard dtype != "same" else { return }
                        output.dtype = DType(rawValue: dtype)
                        if output.dtype == nil {
                            table.reader.fail(
                                table.key("dtype"),
                                "\"\(dtype)\" is not one of \"same\", \(DType.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", "))")
                        }
                    }, render: { TOMLText.quote($0.dtype?.rawValue ?? "same") }),
                .string(
                    "dead_letter", \.deadLetter, "optional PUSH endpoint (bound) for rejected messages",
                    check: { $0.isEmpty ? nil : Endpoint.problem($0, bind: true) }),
                ConfigurationKey(
                    name: "when_full", doc: "\"block\" (default for push and jetstream) | \"drop\" (default for pub)", example: "\"drop\"",
                    read: { table, output in
                        output.whenFull = table.choice("when_full", output.socket == .pub ? WhenFull.drop : .block)
                    }, render: { TOMLText.quote($0.whenFull.rawValue) }),
            ])
        section.check = { table, output in
            if output.socket != .jetstream { requireEndpoint(table, connect: output.connect, bind: output.bind) }
        }
        return section
    }

    /// `[pipeline.input.curve]` and `[pipeline.output.curve]`.
    static func curve(_ side: String) -> ConfigurationSection<CurveSettings> {
        ConfigurationSection(
            table: "pipeline.\(side).curve",
            keys: [
                ConfigurationKey(
                    name: "secret_key_file", doc: "this side's certificate (keygen's NAME.key_secret)",
                    example: "\"/etc/normd/curve/normd.key_secret\"",
                    read: { table, curve in
                        curve.secretKeyFile = table.string("secret_key_file", curve.secretKeyFile)
                        switch readSecretCertificate(curve.secretKeyFile) {
                        case .success(let certificate): curve.certificate = certificate
                        case .failure(let problem): table.reader.fail(table.key("secret_key_file"), problem.message)
                        }
                    }, render: { TOMLText.quote($0.secretKeyFile) }),
                .strings(
                    "allow", \.allow, example: "[\"<Z85 client public key>\"]", "bind side: client public keys let in",
                    check: { ZMQCurve.isValidKey($0) ? nil : "not a 40-character Z85 public key" }),
                .string(
                    "allow_dir", \.allowDir, example: "\"/etc/normd/curve/clients\"", "bind side: a folder of client certificates let in",
                    check: { path in
                        var isDirectory: ObjCBool = false
                        return path.isEmpty || FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
                            ? nil : "\(path) is not a folder"
                    }),
                .string(
                    "server_public_key", \.serverPublicKey, "connect side only: the server's Z85 public key",
                    check: { $0.isEmpty || ZMQCurve.isValidKey($0) ? nil : "not a 40-character Z85 public key" }),
            ])
    }

    private static func readSecretCertificate(_ path: String) -> Result<CurveCertificate, DaemonError> {
        guard !path.isEmpty else { return .failure(DaemonError(.configuration, "a curve section needs this side's secret key file")) }
        do {
            let certificate = try CurveCertificate.load(secretFile: path)
            guard certificate.secretKey != nil else { return .failure(DaemonError(.configuration, "\(path) holds no secret-key")) }
            return .success(certificate)
        } catch {
            return .failure(error)
        }
    }

    /// `"a" | "b"` for an enumeration's raw values.
    static func choices<T: RawRepresentable & CaseIterable>(_ type: T.Type) -> String where T.RawValue == String {
        T.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: " | ")
    }

    private static func requireEndpoint(_ table: ConfigurationReader.Table, connect: [String], bind: [String]) {
        if connect.isEmpty && bind.isEmpty
            && !table.reader.problems.contains(where: { $0.key.hasPrefix(table.key("connect")) || $0.key.hasPrefix(table.key("bind")) })
        {
            table.reader.fail(table.path, "needs at least one endpoint in connect or bind")
        }
    }
}
