import Foundation
import NormCore
import NormFormats
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
        switch FileContents.text(path) {
        case .success(let text): return try parse(text, file: path, environment: environment)
        case .failure(let failure): throw ConfigurationError(file: path, "cannot read: \(failure)")
        }
    }

    public static func parse(
        _ text: String, file: String, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(ConfigurationError) -> Loaded {
        let document: TOMLParser.Document
        // A byte order mark, as some Windows editors write at the start of UTF-8, is not TOML
        // but says nothing either: skipped, so the first line reads as it looks.
        let text = text.unicodeScalars.first == "\u{FEFF}" ? String(text.unicodeScalars.dropFirst()) : text
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
        // Pipeline "a"'s previous generation, a.prev.safetensors, is pipeline "a.prev"'s state file:
        // each checkpoint would overwrite the other's, and a restart could restore one's statistics into the other.
        for (index, pipeline) in pipelines.enumerated() where pipeline.name.hasSuffix(".prev") && seen.contains(String(pipeline.name.dropLast(5))) {
            reader.fail(
                "pipeline[\(index)].name",
                "\"\(pipeline.name)\" would share a state file with pipeline \"\(pipeline.name.dropLast(5))\" (\(pipeline.name).safetensors is also its previous generation); choose another name"
            )
        }
        checkBindsAreUnique(pipelines, reader: reader)
        guard reader.problems.isEmpty else { throw ConfigurationError(problems: reader.problems) }
        return Loaded(configuration: Configuration(daemon: daemon, pipelines: pipelines), warnings: reader.warnings)
    }

    private static func readDaemon(_ table: ConfigurationReader.Table?, defaults: DefaultPaths, reader: ConfigurationReader) -> DaemonSettings {
        var daemon = DaemonSettings(controlSocket: defaults.controlSocket, stateDir: defaults.stateDir)
        guard let table else { return daemon }
        ConfigurationSchema.daemon.read(table, into: &daemon)
        table.finish()
        return daemon
    }

    private static func readPipeline(_ table: ConfigurationReader.Table, index: Int, reader: ConfigurationReader) -> PipelineConfiguration {
        let name = table.string("name", "")
        // Unless the name given was already refused (not a string, or holding a NUL).
        if name.isEmpty, !reader.problems.contains(where: { $0.key == table.key("name") }) { reader.fail(table.key("name"), "every pipeline needs a name") }
        if name.contains(where: { $0 == "/" || $0 == " " || $0.isNewline }) {
            reader.fail(table.key("name"), "\"\(name)\" may not contain '/', spaces or newlines (it names the state file)")
        }
        // The longest file it names, <name>.prev.safetensors.tmp, must fit a file name (255 bytes).
        if name.utf8.count > PipelineConfiguration.maxNameBytes {
            reader.fail(table.key("name"), "is \(name.utf8.count) bytes, longer than \(PipelineConfiguration.maxNameBytes) (it names the state files)")
        }
        var pipeline = PipelineConfiguration(name: name)
        if let input = table.table("input") {
            pipeline.input = readInput(input, reader: reader)
        } else {
            reader.fail(table.key("input"), "every pipeline needs an [pipeline.input] table")
        }
        if let output = table.table("output") {
            pipeline.output = readOutput(output, reader: reader)
        } else {
            reader.fail(table.key("output"), "every pipeline needs an [pipeline.output] table")
        }
        if let norm = table.table("norm") { pipeline.norm = readNorm(norm, reader: reader) }
        if pipeline.input.socket == .jetstream && pipeline.norm.stats == .shared {
            reader.fail(table.key("norm.stats"), "\"shared\" cannot be kept with a JetStream input: its keys are shared among instances")
        }
        if pipeline.input.socket == .jetstream, pipeline.norm.keyPolicy == .evictLRU, pipeline.norm.maxKeys > 0,
            pipeline.norm.settings.hasRunningStatistics, let norm = table.table("norm")
        {
            // The limit is the state bucket's, kept by the server for every instance: it can
            // refuse a new key, but not pick the pipeline's least recently used one to evict.
            reader.fail(
                norm.key("key_policy"), "\"evict_lru\" cannot be kept with a JetStream input: its state bucket refuses keys beyond max_keys; use \"reject\"")
        }
        table.finish()
        return pipeline
    }

    private static func readInput(_ table: ConfigurationReader.Table, reader: ConfigurationReader) -> InputSettings {
        var input = InputSettings()
        ConfigurationSchema.input.read(table, into: &input)
        ConfigurationSchema.jetStreamInput.read(table, into: &input)
        input.curve = readCurve(table, side: "input")
        table.finish()
        return input
    }

    private static func readOutput(_ table: ConfigurationReader.Table, reader: ConfigurationReader) -> OutputSettings {
        var output = OutputSettings()
        ConfigurationSchema.output.read(table, into: &output)
        ConfigurationSchema.jetStreamOutput.read(table, into: &output)
        output.curve = readCurve(table, side: "output")
        table.finish()
        return output
    }

    private static func readCurve(_ parent: ConfigurationReader.Table, side: String) -> CurveSettings? {
        guard let table = parent.table("curve") else { return nil }
        var curve = CurveSettings()
        ConfigurationSchema.curve(side).read(table, into: &curve)
        table.finish()
        return curve
    }

    static func readNorm(_ table: ConfigurationReader.Table, reader: ConfigurationReader) -> NormConfiguration {
        var norm = NormConfiguration()
        ConfigurationSchema.norm.read(table, into: &norm)
        table.finish()
        return norm
    }
}
