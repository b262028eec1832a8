import Foundation
import NormDaemon
import NormFormats
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
        for line in [
            "[daemon]", "checkpoint_interval_s = 10.0", "name = \"features\"", "topics = [\"\"]", "when_full = \"drop\"",
            "eps = 1e-05", "momentum = 0.1", "nonfinite = \"reject\"", "key_policy = \"reject\"",
        ] {
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
        for (arguments, message) in [
            (["--keys", "2", "--producers", "4"], "--keys must be at least --producers"),
            (["--rate", "0"], "--rate must be a positive number"),
            (["--load", "1.5"], "--load must be in (0, 1]"),
        ] {
            let result = try runNormd(["bench", "--soak"] + arguments)
            #expect(result.status == 64)
            #expect(result.stderr.contains(message))
        }
    }

    @Test(
        "bench refuses what it cannot measure before it starts anything: a shape the wire cannot carry (one that overflowed crashed it), no rounds, nothing in flight",
        arguments: [
            (["--shape", "99999999,99999999,9999"], "is over 256 MiB of float32"),
            (["--shape", "64"], "--shape must have 2 to 5 dimensions"),
            (["--kernel", "--rounds", "0"], "--rounds must be at least 1"),
            (["--in-flight", "0"], "--in-flight must be at least 1"),
            (["--keys", "0"], "--keys must be at least 1"),
        ])
    func benchArguments(arguments: [String], message: String) throws {
        let result = try runNormd(["bench"] + arguments)
        #expect(result.status == 64 && result.stderr.contains(message), "\(result.stderr)")
    }

    @Test("keygen writes a zcert pair, the secret one readable only by its owner, and never replaces an existing pair")
    func keygen() throws {
        let directory = DaemonProcess.makeDirectory().path
        let result = try runNormd(["keygen", directory, "server"])
        #expect(result.status == 0)
        let secret = try CurveCertificate.load(secretFile: "\(directory)/server.key_secret")
        let publicOnly = try CurveCertificate.load(secretFile: "\(directory)/server.key")
        #expect(secret.publicKey == publicOnly.publicKey && publicOnly.secretKey == nil && secret.secretKey != nil)
        let permissions = try FileManager.default.attributesOfItem(atPath: "\(directory)/server.key_secret")[.posixPermissions] as? Int
        #expect(permissions == 0o600)

        // Run again: the pair stays as it was, and the refusal says why.
        let again = try runNormd(["keygen", directory, "server"])
        #expect(again.status != 0 && again.stderr.contains("server.key_secret exists"), "\(again.stderr)")
        #expect(try CurveCertificate.load(secretFile: "\(directory)/server.key_secret").secretKey == secret.secretKey)
        #expect(try CurveCertificate.load(secretFile: "\(directory)/server.key").publicKey == secret.publicKey)

        // A name that is not a file name writes nothing (an empty one made hidden ".key" files).
        for name in ["", "sub/server", ".."] {
            let refused = try runNormd(["keygen", directory, name])
            #expect(refused.status == 1 && refused.stderr.contains("is not a certificate name"), "\(name): \(refused.stderr)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).sorted() == ["server.key", "server.key_secret"])
    }
}
