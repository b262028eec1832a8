import Foundation
import NormDaemon
import NormFormats
import NormTestSupport
import ZeroMQ

/// A real `normd` process on a configuration in its own temporary folder.
final class DaemonProcess {
    let directory: URL
    let configPath: String
    let process = Process()
    let logPath: String
    var socketPath: String { directory.appendingPathComponent("ctl.sock").path }
    var stateDir: String { directory.appendingPathComponent("state").path }

    /// The `normd` executable built beside this test bundle.
    static let binary: String = {
        if let path = ProcessInfo.processInfo.environment["NORMD_BINARY"] { return path }
        let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var folder = exe.deletingLastPathComponent()
        while folder.path != "/" {
            let candidate = folder.appendingPathComponent("normd").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            folder = folder.deletingLastPathComponent()
        }
        fatalError("normd binary not found near \(exe.path); set NORMD_BINARY")
    }()

    static func makeDirectory() -> URL {
        TestFolders.make("e2e")
    }

    /// `pipelines` is TOML for the `[[pipeline]]` tables; `{dir}` stands for the temporary folder.
    init(
        pipelines: String, daemon extra: String = "", directory: URL = DaemonProcess.makeDirectory(),
        arguments: [String] = [], environment: [String: String] = [:], descriptorLimit: Int? = nil, softDescriptorLimit: Int? = nil,
        waitUntilReady: Bool = true
    ) throws {
        self.directory = directory
        configPath = directory.appendingPathComponent("normd.toml").path
        logPath = directory.appendingPathComponent("normd.log").path
        let text = """
            [daemon]
            control_socket = "\(directory.path)/ctl.sock"
            state_dir = "\(directory.path)/state"
            \(extra.contains("threads =") ? "" : "threads = 2")
            log_level = "debug"
            \(extra)

            \(pipelines.replacingOccurrences(of: "{dir}", with: directory.path))
            """
        if !FileManager.default.fileExists(atPath: configPath) { try text.write(toFile: configPath, atomically: true, encoding: .utf8) }
        try launch(arguments: arguments, environment: environment, descriptorLimit: descriptorLimit, softDescriptorLimit: softDescriptorLimit)
        if waitUntilReady { try self.waitUntilReady() }
    }

    /// Starts `normd run`; with `descriptorLimit` (soft and hard) or `softDescriptorLimit` (soft
    /// only), through a shell that sets `ulimit -n` and then execs normd (so the process's pid is
    /// normd's).
    func launch(arguments: [String], environment: [String: String], descriptorLimit: Int? = nil, softDescriptorLimit: Int? = nil) throws {
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let run = ["run", "--config", configPath] + arguments
        let ulimit = descriptorLimit.map { "ulimit -n \($0)" } ?? softDescriptorLimit.map { "ulimit -S -n \($0)" }
        if let ulimit {
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = ["-c", "\(ulimit) && exec \"$0\" \"$@\"", Self.binary] + run
        } else {
            process.executableURL = URL(fileURLWithPath: Self.binary)
            process.arguments = run
        }
        var env = ProcessInfo.processInfo.environment
        // Under AddressSanitizer CI checks the daemon for leaks even when the test runner itself is not.
        if let options = env["NORMD_DAEMON_ASAN_OPTIONS"] { env["ASAN_OPTIONS"] = options }
        for (k, v) in environment { env[k] = v }
        // "journal" stands for the journal's DEV:INODE of the log file normd writes to, as systemd sets it.
        if env["JOURNAL_STREAM"] == "journal" {
            var info = stat()
            stat(logPath, &info)
            env["JOURNAL_STREAM"] = "\(info.st_dev):\(info.st_ino)"
        }
        process.environment = env
        let log = FileHandle(forWritingAtPath: logPath)!
        log.seekToEndOfFile()
        process.standardError = log
        process.standardOutput = log
        try process.run()
    }

    func waitUntilReady(timeout: Double = 20) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if !process.isRunning { throw TestFailure("normd exited with \(process.terminationStatus):\n\(log)") }
            if (try? ControlClient.send(["stats"], socket: socketPath)) != nil { return }
            usleep(20_000)
        }
        throw TestFailure("normd did not become ready:\n\(log)")
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// Sends a control command and parses the JSON answer.
    func ctl(_ words: String...) throws -> JSONValue {
        let reply = try ControlClient.send(words, socket: socketPath)
        return try JSONParser.parse(reply.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    func ctlText(_ words: String...) throws -> String { try ControlClient.send(words, socket: socketPath) }

    func signal(_ signal: Int32) { kill(process.processIdentifier, signal) }

    /// SIGTERM and wait; returns the exit status.
    @discardableResult
    func stop(timeout: Double = 20) -> Int32 {
        if process.isRunning { signal(SIGTERM) }
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning {
            signal(SIGKILL)
            process.waitUntilExit()
            return -1
        }
        // A sanitizer's report is in the daemon's log, which the test's failure does not show.
        let log = log
        if let report = log.range(of: "==================\nWARNING: ThreadSanitizer") ?? log.range(of: "ERROR: AddressSanitizer") {
            FileHandle.standardError.write(Data("normd exited with \(process.terminationStatus):\n\(log[report.lowerBound...])\n".utf8))
        }
        return process.terminationStatus
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }
}

/// One batch-norm pipeline "p": PULL bound at {dir}/in, PUSH bound at {dir}/out, every other key at its default.
let minimalPipeline = """
    [[pipeline]]
    name = "p"
    [pipeline.input]
    bind = ["ipc://{dir}/in"]
    [pipeline.output]
    bind = ["ipc://{dir}/out"]
    """

/// Runs `normd` with arguments and captures its output (for check-config and the like).
func runNormd(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
    try runProcess(DaemonProcess.binary, arguments)
}
