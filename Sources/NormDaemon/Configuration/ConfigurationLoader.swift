import Foundation
import NormCore
import ZeroMQ

/// Turns TOML text into a validated `Configuration`, or every problem found in it.
public enum ConfigurationLoader {
    public struct Loaded: Sendable {
        public let configuration: Configuration
        public let warnings: [ConfigurationProblem]
    }

    /// The embedded default: one batch-norm pipeline from PULL 127.0.0.1:5555 to PUSH 127.0.0.1:5556.
    public static let embeddedDefault = """
        [[pipeline]]
        name = "default"

        [pipeline.input]
        socket = "pull"
        bind = ["tcp://127.0.0.1:5555"]

        [pipeline.output]
        socket = "push"
        bind = ["tcp://127.0.0.1:5556"]

        [pipeline.norm]
        kind = "batch"
        channels = 0
        momentum = 0.1
        mode = "train"
        stats = "per_key"
        """

    public static func load(path: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws(ConfigurationError) -> Loaded {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigurationError(file: path, "cannot read: \(error.localizedDescription)")
        }
        return try parse(text, file: path, environment: environment)
    }

    public static func parse(_ text: String, file: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws(ConfigurationError) -> Loaded {
        let document: TOMLParser.Document
        do {
            document = try TOMLParser.parse(text)
        } catch {
            throw ConfigurationError(file: file, line: error.line, error.message)
        }
        guard case .table(let members) = document.root else { throw ConfigurationError(file: file, "not a TOML document") }
        let reader = ConfigurationReader(file: file, lines: document.lines)
        let top = ConfigurationReader.Table(path: "", members: members, reader: reader)
        let defaults = DefaultPaths(environment: environment)
        let daemon = readDaemon(top.table("daemon"), defaults: defaults, reader: reader)
        var pipelines: [PipelineConfiguration] = []
        if let node = top.node("pipeline") {
            if case .array(let items) = node {
                for (index, item) in items.enumerated() {
                    guard case .table(let members) = item else {
                        reader.fail("pipeline[\(index)]", "expected a table")
                        continue
                    }
                    let table = ConfigurationReader.Table(path: "pipeline[\(index)]", members: members, reader: reader)
                    pipelines.append(readPipeline(table, index: index, reader: reader))
                }
            } else {
                reader.fail("pipeline", "expected [[pipeline]] tables")
            }
        }
        top.finish()
        if pipelines.isEmpty && reader.problems.isEmpty { reader.fail("pipeline", "no [[pipeline]] is configured") }
        var seen: Set<String> = []
        for (index, pipeline) in pipelines.enumerated() where !seen.insert(pipeline.name).inserted {
            reader.fail("pipeline[\(index)].name", "\"\(pipeline.name)\" is already the name of another pipeline")
        }
        checkBindsAreUnique(pipelines, reader: reader)
        guard reader.problems.isEmpty else { throw ConfigurationError(problems: reader.problems) }
        return Loaded(configuration: Configuration(daemon: daemon, pipelines: pipelines), warnings: reader.warnings)
    }

    private static func readDaemon(_ table: ConfigurationReader.Table?, defaults: DefaultPaths, reader: ConfigurationReader) -> DaemonSettings {
        var daemon = DaemonSettings(controlSocket: defaults.controlSocket, stateDir: defaults.stateDir)
        guard let table else { return daemon }
        daemon.controlSocket = table.string("control_socket", daemon.controlSocket)
        daemon.stateDir = table.string("state_dir", daemon.stateDir)
        daemon.checkpointIntervalS = table.double("checkpoint_interval_s", 10, range: 0...86_400, exclusiveLower: true)
        daemon.threads = table.int("threads", 0)
        daemon.logLevel = table.string("log_level", "info")
        let levels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]
        if !levels.contains(daemon.logLevel) {
            reader.fail(table.key("log_level"), "\"\(daemon.logLevel)\" is not one of \(levels.joined(separator: ", "))")
        }
        daemon.controlGroup = table.string("control_group", "")
        if !daemon.controlGroup.isEmpty && getgrnam(daemon.controlGroup) == nil {
            reader.fail(table.key("control_group"), "group \"\(daemon.controlGroup)\" does not exist (create it, e.g. groupadd --system \(daemon.controlGroup))")
        }
        daemon.shutdownTimeoutS = table.double("shutdown_timeout_s", 10, range: 0...3600, exclusiveLower: true)
        daemon.metricsListen = table.string("metrics_listen", "")
        daemon.metricsKeyStatistics = table.bool("metrics_key_statistics", false)
        daemon.metricsKeyLimit = table.int("metrics_key_limit", 1000, minimum: 0)
        if !daemon.metricsListen.isEmpty && HostPort(daemon.metricsListen) == nil {
            reader.fail(table.key("metrics_listen"), "\"\(daemon.metricsListen)\" is not HOST:PORT")
        }
        if daemon.controlSocket.isEmpty { reader.fail(table.key("control_socket"), "must not be empty") }
        table.finish()
        return daemon
    }

    private static func readPipeline(_ table: ConfigurationReader.Table, index: Int, reader: ConfigurationReader) -> PipelineConfiguration {
        let name = table.string("name", "")
        if name.isEmpty { reader.fail(table.key("name"), "every pipeline needs a name") }
        if name.contains(where: { $0 == "/" || $0 == " " || $0.isNewline }) {
            reader.fail(table.key("name"), "\"\(name)\" may not contain '/', spaces or newlines (it names the state file)")
        }
        var pipeline = PipelineConfiguration(name: name)
        if let input = table.table("input") { pipeline.input = readInput(input, reader: reader) } else {
            reader.fail(table.key("input"), "every pipeline needs an [pipeline.input] table")
        }
        if let output = table.table("output") { pipeline.output = readOutput(output, reader: reader) } else {
            reader.fail(table.key("output"), "every pipeline needs an [pipeline.output] table")
        }
        if let norm = table.table("norm") { pipeline.norm = readNorm(norm, reader: reader) }
        table.finish()
        return pipeline
    }

    private static func readEndpoints(_ table: ConfigurationReader.Table, reader: ConfigurationReader) -> (connect: [String], bind: [String]) {
        let connect = table.strings("connect", [])
        let bind = table.strings("bind", [])
        for (i, endpoint) in connect.enumerated() { checkEndpoint(endpoint, key: "\(table.key("connect"))[\(i)]", bind: false, reader: reader) }
        for (i, endpoint) in bind.enumerated() { checkEndpoint(endpoint, key: "\(table.key("bind"))[\(i)]", bind: true, reader: reader) }
        if connect.isEmpty && bind.isEmpty && !reader.problems.contains(where: { $0.key.hasPrefix(table.path) }) {
            reader.fail(table.path, "needs at least one endpoint in connect or bind")
        }
        return (connect, bind)
    }

    static func checkEndpoint(_ endpoint: String, key: String, bind: Bool, reader: ConfigurationReader) {
        if let problem = Endpoint.problem(endpoint, bind: bind) { reader.fail(key, problem) }
    }

    private static func readHWM(_ table: ConfigurationReader.Table) -> Int {
        table.int("hwm", 1000)
    }

    private static func readInput(_ table: ConfigurationReader.Table, reader: ConfigurationReader) -> InputSettings {
        var input = InputSettings()
        input.socket = table.choice("socket", InputSocketKind.pull)
        (input.connect, input.bind) = readEndpoints(table, reader: reader)
        if table.has("topics") && input.socket != .sub { reader.warn(table.key("topics"), "applies to socket = \"sub\" only; ignored") }
        input.topics = table.strings("topics", [""])
        input.hwm = readHWM(table)
        input.maxMessageBytes = table.int("max_message_bytes", 268_435_456, minimum: 1)
        if let curve = table.table("curve") { input.curve = readCurve(curve, reader: reader) }
        table.finish()
        return input
    }

    private static func readOutput(_ table: ConfigurationReader.Table, reader: ConfigurationReader) -> OutputSettings {
        var output = OutputSettings()
        output.socket = table.choice("socket", OutputSocketKind.push)
        (output.connect, output.bind) = readEndpoints(table, reader: reader)
        output.hwm = readHWM(table)
        output.topic = table.string("topic", "")
        if output.topic.utf8.count > WireDecoder.maxKeyBytes { reader.fail(table.key("topic"), "longer than \(WireDecoder.maxKeyBytes) bytes") }
        let dtype = table.string("dtype", "same")
        if dtype != "same" {
            output.dtype = DType(rawValue: dtype)
            if output.dtype == nil { reader.fail(table.key("dtype"), "\"\(dtype)\" is not one of \"same\", \"float32\", \"float64\", \"float16\", \"bfloat16\"") }
        }
        output.deadLetter = table.string("dead_letter", "")
        if !output.deadLetter.isEmpty { checkEndpoint(output.deadLetter, key: table.key("dead_letter"), bind: true, reader: reader) }
        output.whenFull = table.choice("when_full", output.socket == .push ? WhenFull.block : .drop)
        if let curve = table.table("curve") { output.curve = readCurve(curve, reader: reader) }
        table.finish()
        return output
    }

    private static func readCurve(_ table: ConfigurationReader.Table, reader: ConfigurationReader) -> CurveSettings {
        var curve = CurveSettings()
        curve.secretKeyFile = table.string("secret_key_file", "")
        if curve.secretKeyFile.isEmpty { reader.fail(table.key("secret_key_file"), "a curve section needs this side's secret key file") }
        curve.allow = table.strings("allow", [])
        for (i, key) in curve.allow.enumerated() where !ZMQCurve.isValidKey(key) {
            reader.fail("\(table.key("allow"))[\(i)]", "not a 40-character Z85 public key")
        }
        curve.allowDir = table.string("allow_dir", "")
        curve.serverPublicKey = table.string("server_public_key", "")
        if !curve.secretKeyFile.isEmpty {
            do throws(DaemonError) {
                guard try CurveCertificate.load(secretFile: curve.secretKeyFile).secretKey != nil else {
                    throw DaemonError(.configuration, "\(curve.secretKeyFile) holds no secret-key")
                }
            } catch {
                reader.fail(table.key("secret_key_file"), error.message)
            }
        }
        if !curve.allowDir.isEmpty {
            var isDirectory: ObjCBool = false
            if !FileManager.default.fileExists(atPath: curve.allowDir, isDirectory: &isDirectory) || !isDirectory.boolValue {
                reader.fail(table.key("allow_dir"), "\(curve.allowDir) is not a folder")
            }
        }
        if !curve.serverPublicKey.isEmpty && !ZMQCurve.isValidKey(curve.serverPublicKey) {
            reader.fail(table.key("server_public_key"), "not a 40-character Z85 public key")
        }
        table.finish()
        return curve
    }
}
