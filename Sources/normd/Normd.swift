import ArgumentParser
import Foundation
import Logging
import NormDaemon

@main
struct Normd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Normalizes tensor streams on ZeroMQ with PyTorch's BatchNorm, GroupNorm, LayerNorm and InstanceNorm.",
        version: BuildInfo.version,
        subcommands: [Run.self, CheckConfig.self, Ctl.self, Top.self, Bench.self, Keygen.self])

    /// Plain `normd` prints its usage and exits 0; `normd run` is never implied.
    func run() async throws {
        print(Self.helpMessage())
    }
}

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the daemon in the foreground.")

    @Option(help: "Configuration file (default: $NORMD_CONFIG, /etc/normd/normd.toml, or the embedded default).")
    var config: String?

    @Flag(help: "Ignore saved state files and start from the initial statistics.")
    var resetState = false

    func run() async throws {
        let source = DaemonRunner.source(configPath: config)
        let status = await DaemonRunner.run(source: source, resetState: resetState) { level in
            let journal = DaemonLogHandler.stderrIsJournal()
            LoggingSystem.bootstrap { _ in DaemonLogHandler(journal: journal) }
            var logger = Logger(label: "normd")
            logger.logLevel = Logger.Level(rawValue: level) ?? .info
            return logger
        }
        throw ExitCode(status)
    }
}

struct CheckConfig: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config", abstract: "Validate a configuration and print it with every default filled in.")

    @Argument(help: "The configuration file.")
    var path: String

    @Flag(help: "Print errors only (for ExecStartPre): nothing when the configuration is valid.")
    var quiet = false

    func run() throws {
        do {
            let loaded = try ConfigurationLoader.load(path: path)
            if quiet { return }
            for warning in loaded.warnings { FileHandle.standardError.write(Data("warning: \(warning)\n".utf8)) }
            print(ConfigurationRenderer.render(loaded.configuration), terminator: "")
        } catch {
            FileHandle.standardError.write(Data("\(error)\n".utf8))
            throw ExitCode(ConfigurationError.exitCode)
        }
    }
}
