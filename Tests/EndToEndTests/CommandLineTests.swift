import Foundation
import NormDaemon
import Testing

@Suite("The normd command line")
struct CommandLineTests {
    @Test("check-config prints the effective configuration and exits 0, or FILE:LINE: KEY: message and 78")
    func checkConfig() throws {
        let directory = DaemonProcess.makeDirectory()
        let good = directory.appendingPathComponent("good.toml").path
        try """
            [[pipeline]]
            name = "features"
            [pipeline.input]
            socket = "sub"
            connect = ["tcp://127.0.0.1:5555"]
            [pipeline.output]
            socket = "pub"
            bind = ["tcp://127.0.0.1:5556"]
            [pipeline.norm]
            kind = "group"
            channels = 64
            groups = 8
            """.write(toFile: good, atomically: true, encoding: .utf8)
        let ok = try runNormd(["check-config", good])
        #expect(ok.status == 0)
        for line in ["[daemon]", "checkpoint_interval_s = 10.0", "name = \"features\"", "topics = [\"\"]", "when_full = \"drop\"",
                     "eps = 1e-05", "momentum = 0.1", "nonfinite = \"reject\"", "key_policy = \"reject\""] {
            #expect(ok.stdout.contains(line), "missing \(line) in:\n\(ok.stdout)")
        }
        let bad = directory.appendingPathComponent("normd.toml").path
        try String(contentsOfFile: good, encoding: .utf8).replacingOccurrences(of: "groups = 8", with: "groups = 7")
            .write(toFile: bad, atomically: true, encoding: .utf8)
        let refused = try runNormd(["check-config", bad])
        #expect(refused.status == 78)
        #expect(refused.stderr == "\(bad):12: pipeline[0].norm.groups: 7 does not divide channels 64\n")
        #expect(try runNormd(["check-config", directory.appendingPathComponent("missing.toml").path]).status == 78)
        #expect(try runNormd(["run", "--config", bad]).status == 78)
    }

    @Test("ctl: JSON when piped, exit 1 on an error reply, 2 when the socket cannot be reached")
    func ctl() throws {
        let daemon = try DaemonProcess(pipelines: minimalPipeline)
        let stats = try runNormd(["ctl", "--socket", daemon.socketPath, "stats"])
        #expect(stats.status == 0)
        #expect(try JSONParser.parse(stats.stdout.trimmingCharacters(in: .whitespacesAndNewlines))["pipelines"]?["p"]?["received"] == .number("0"))
        let help = try runNormd(["ctl", "--socket", daemon.socketPath, "help"])
        #expect(help.status == 0 && help.stdout.contains("checkpoint"))
        let unknown = try runNormd(["ctl", "--socket", daemon.socketPath, "show", "nope"])
        #expect(unknown.status == 1)
        #expect(try JSONParser.parse(unknown.stdout.trimmingCharacters(in: .whitespacesAndNewlines))["error"] == .string("unknown_pipeline"))
        #expect(try runNormd(["ctl", "--socket", daemon.socketPath, "mode", "p", "eval"]).status == 0)
        #expect(try daemon.ctl("show", "p")["mode"] == .string("eval"))
        #expect(try runNormd(["ctl", "--socket", daemon.socketPath, "reset", "p", "nokey"]).status == 1)
        #expect(try runNormd(["ctl", "--socket", daemon.socketPath, "frobnicate"]).stdout.contains("unknown_command"))
        #expect(daemon.stop() == 0)
        #expect(try runNormd(["ctl", "--socket", daemon.socketPath, "stats"]).status == 2)
    }

    @Test("the control socket is mode 0660 and removed at shutdown")
    func socketMode() throws {
        let daemon = try DaemonProcess(pipelines: minimalPipeline)
        let permissions = try FileManager.default.attributesOfItem(atPath: daemon.socketPath)[.posixPermissions] as? Int
        #expect(permissions == 0o660)
        #expect(daemon.stop() == 0)
        #expect(!FileManager.default.fileExists(atPath: daemon.socketPath))
    }

    @Test("bench --soak refuses a load it cannot run, before it starts anything")
    func soakArguments() throws {
        for (arguments, message) in [(["--keys", "2", "--producers", "4"], "--keys must be at least --producers"),
                                     (["--rate", "0"], "--rate must be a positive number"),
                                     (["--load", "1.5"], "--load must be in (0, 1]")] {
            let result = try runNormd(["bench", "--soak"] + arguments)
            #expect(result.status == 64)
            #expect(result.stderr.contains(message))
        }
    }

    @Test("keygen writes a zcert pair, the secret one readable only by its owner")
    func keygen() throws {
        let directory = DaemonProcess.makeDirectory().path
        let result = try runNormd(["keygen", directory, "server"])
        #expect(result.status == 0)
        let secret = try CurveCertificate.load(secretFile: "\(directory)/server.key_secret")
        let publicOnly = try CurveCertificate.load(secretFile: "\(directory)/server.key")
        #expect(secret.publicKey == publicOnly.publicKey && publicOnly.secretKey == nil && secret.secretKey != nil)
        let permissions = try FileManager.default.attributesOfItem(atPath: "\(directory)/server.key_secret")[.posixPermissions] as? Int
        #expect(permissions == 0o600)
    }
}

@Suite("Command-line manners")
struct CommandLineMannersTests {
    @Test("plain normd prints usage and exits 0 without starting a daemon; --version prints the version")
    func usageAndVersion() throws {
        let plain = try runNormd([])
        #expect(plain.status == 0)
        #expect(plain.stdout.contains("USAGE: normd <subcommand>") && plain.stdout.contains("check-config"))
        let version = try runNormd(["--version"])
        #expect(version.status == 0 && version.stdout == "\(BuildInfo.version)\n")
    }

    @Test("normd ctl --help is answered locally, listing the control commands, even with no daemon")
    func ctlHelp() throws {
        let help = try runNormd(["ctl", "--socket", "/nonexistent/normd.sock", "--help"])
        #expect(help.status == 0)
        #expect(help.stdout.contains("USAGE: normd ctl") && help.stdout.contains("reset PIPELINE [KEY]") && help.stdout.contains("--timeout"))
    }

    @Test("a client trickling one byte at a time does not hold up stats; ctl --timeout gives up with status 2")
    func slowClient() throws {
        let daemon = try DaemonProcess(pipelines: minimalPipeline)
        // A client that sends half a command and then nothing: the daemon must answer others meanwhile.
        let slow = try UnixSocket.connect(path: daemon.socketPath)
        defer { close(slow) }
        UnixSocket.writeAll(slow, "st")
        let started = Date()
        let stats = try runNormd(["ctl", "--socket", daemon.socketPath, "--timeout", "1", "stats"])
        #expect(stats.status == 0, "stats was not answered within 1 s beside a stalled client: \(stats.stderr)")
        #expect(Date().timeIntervalSince(started) < 5)
        // The stalled client is cut off by the request deadline with an error, not served forever.
        let cutOff = try #require(UnixSocket.readAll(slow, deadline: DispatchTime.now().uptimeNanoseconds + 20_000_000_000))
        #expect(String(decoding: cutOff, as: UTF8.self).contains("bad_argument"))

        // A listener that never answers: ctl gives up after --timeout with status 2.
        let silent = daemon.directory.appendingPathComponent("silent.sock").path
        let listener = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(listener) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(silent.utf8)) }
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
        #expect(bound == 0 && listen(listener, 4) == 0)
        let timedOut = try runNormd(["ctl", "--socket", silent, "--timeout", "0.5", "stats"])
        #expect(timedOut.status == 2 && timedOut.stderr.contains("within 0.5 s"), "\(timedOut)")
        #expect(daemon.stop() == 0)
    }
}

@Suite("Command-line output for scripts")
struct ScriptOutputTests {
    @Test("check-config --quiet prints nothing for a valid file and only errors, sorted by line, for a bad one")
    func quietCheckConfig() throws {
        let directory = DaemonProcess.makeDirectory()
        let good = directory.appendingPathComponent("good.toml").path
        try minimalPipeline.replacingOccurrences(of: "{dir}", with: directory.path).write(toFile: good, atomically: true, encoding: .utf8)
        let ok = try runNormd(["check-config", "--quiet", good])
        #expect(ok.status == 0 && ok.stdout.isEmpty && ok.stderr.isEmpty, "\(ok)")
        let bad = directory.appendingPathComponent("bad.toml").path
        // The loader reads [daemon] (line 13) before the pipelines (lines 7 and 11); the output is by line.
        try """
            [[pipeline]]
            name = "p"
            [pipeline.input]
            bind = ["ipc://\(directory.path)/in"]
            [pipeline.output]
            bind = ["ipc://\(directory.path)/out"]
            colour = "blue"
            [pipeline.norm]
            kind = "group"
            channels = 6
            groups = 4
            [daemon]
            threads = "two"
            """.write(toFile: bad, atomically: true, encoding: .utf8)
        let refused = try runNormd(["check-config", "--quiet", bad])
        #expect(refused.status == 78 && refused.stdout.isEmpty)
        let lines = refused.stderr.split(separator: "\n").map { Int($0.split(separator: ":")[1]) ?? 0 }
        #expect(lines == [7, 11, 13], "\(refused.stderr)")
    }

    @Test("bench --json prints one JSON line on stdout and nothing else")
    func benchJSON() throws {
        let result = try runNormd(["bench", "--json", "--no-forwarder", "--rounds", "1", "--duration", "0.5", "--shape", "2,4,2", "--in-flight", "8"])
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n")
        #expect(lines.count == 1)
        let report = try JSONParser.parse(String(lines.first ?? ""))
        #expect(report["normd"]?["batches_per_s"]?.doubleValue ?? 0 > 0)
    }
}

@Suite("Shell completions")
struct CompletionTests {
    @Test("bash, zsh and fish completions know the subcommands and the ctl verbs", arguments: ["bash", "zsh", "fish"])
    func completions(shell: String) throws {
        let script = try runNormd(["--generate-completion-script", shell])
        #expect(script.status == 0)
        for word in ["check-config", "ctl", "stats", "checkpoint", "reload", "reset"] {
            #expect(script.stdout.contains(word), "\(shell) completion lacks \(word)")
        }
    }
}
