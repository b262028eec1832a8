import Foundation
import NormDaemon
import NormTestSupport
import Testing

@Suite("The Python client against the real daemon")
struct PythonClientTests {
    static let clientDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("clients/python")

    /// Runs Python with the client's source folder on the path (so the tests use this checkout's client).
    static func python(_ arguments: [String], environment: [String: String] = [:]) throws -> (status: Int32, stdout: String, stderr: String) {
        var env = ["PYTHONPATH=\(clientDirectory.appendingPathComponent("src").path)"]
        env += environment.map { "\($0.key)=\($0.value)" }
        return try runProcess("/usr/bin/env", env + ["python3"] + arguments)
    }

    @Test("clients/python/example.py sends NumPy arrays and gets PyTorch's numbers back")
    func example() throws {
        let daemon = try DaemonProcess(
            pipelines: """
                [[pipeline]]
                name = "default"
                [pipeline.input]
                bind = ["ipc://{dir}/in"]
                [pipeline.output]
                bind = ["ipc://{dir}/out"]
                """)
        let result = try Self.python([
            Self.clientDirectory.appendingPathComponent("example.py").path,
            "--input", "ipc://\(daemon.directory.path)/in", "--output", "ipc://\(daemon.directory.path)/out",
        ])
        let text = result.stdout + result.stderr
        #expect(result.status == 0, "\(text)")
        #expect(text.contains("'batches': 3"), "\(text)")
        #expect(daemon.stop() == 0)
    }

    @Test("the client's own tests: context manager, timeouts, writable arrays, NHWC, bfloat16, SUB topics, CURVE, asyncio")
    func clientTests() throws {
        let directory = DaemonProcess.makeDirectory()
        let keys = directory.appendingPathComponent("keys").path
        _ = try CurveCertificate.generate(directory: keys, name: "server")
        _ = try CurveCertificate.generate(directory: keys, name: "client")
        let server = try CurveCertificate.load(secretFile: "\(keys)/server.key_secret")
        let client = try CurveCertificate.load(secretFile: "\(keys)/client.key_secret")
        let securePorts = (try TestPeers.freeLoopbackPort(), try TestPeers.freeLoopbackPort())
        func pipeline(_ name: String, output: String, input: String? = nil, curve: String = "", outputCurve: String = "") -> String {
            """
            [[pipeline]]
            name = "\(name)"
            [pipeline.input]
            bind = ["\(input ?? "ipc://{dir}/\(name).in")"]
            \(curve)
            [pipeline.output]
            \(output)
            \(outputCurve)
            """
        }
        let curve = { (section: String) in
            "[pipeline.\(section).curve]\nsecret_key_file = \"\(keys)/server.key_secret\"\nallow = [\"\(client.publicKey)\"]"
        }
        let daemon = try DaemonProcess(
            pipelines: [
                pipeline("plain", output: "bind = [\"ipc://{dir}/plain.out\"]"),
                pipeline("context", output: "bind = [\"ipc://{dir}/context.out\"]"),
                pipeline("async", output: "bind = [\"ipc://{dir}/async.out\"]"),
                pipeline("pub", output: "socket = \"pub\"\nbind = [\"ipc://{dir}/pub.out\"]"),
                pipeline(
                    "secure", output: "bind = [\"tcp://127.0.0.1:\(securePorts.1)\"]", input: "tcp://127.0.0.1:\(securePorts.0)",
                    curve: curve("input"), outputCurve: curve("output")),
            ].joined(separator: "\n"), directory: directory)
        let dir = directory.path
        let result = try Self.python(
            [Self.clientDirectory.appendingPathComponent("tests/test_client.py").path, "-v"],
            environment: [
                "NORMD_PLAIN_IN": "ipc://\(dir)/plain.in", "NORMD_PLAIN_OUT": "ipc://\(dir)/plain.out",
                "NORMD_CONTEXT_IN": "ipc://\(dir)/context.in", "NORMD_CONTEXT_OUT": "ipc://\(dir)/context.out",
                "NORMD_ASYNC_IN": "ipc://\(dir)/async.in", "NORMD_ASYNC_OUT": "ipc://\(dir)/async.out",
                "NORMD_PUB_IN": "ipc://\(dir)/pub.in", "NORMD_PUB_OUT": "ipc://\(dir)/pub.out",
                "NORMD_SECURE_IN": "tcp://127.0.0.1:\(securePorts.0)", "NORMD_SECURE_OUT": "tcp://127.0.0.1:\(securePorts.1)",
                "NORMD_SERVER_KEY": server.publicKey, "NORMD_CLIENT_CERT": "\(keys)/client.key_secret",
            ])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stderr.contains("Ran 8 tests"), "\(result.stderr)")
        #expect(daemon.stop() == 0)
    }

    @Test("pip installs clients/python as a package with py.typed, importable as normd_client")
    func installable() throws {
        let target = DaemonProcess.makeDirectory().appendingPathComponent("site").path
        // What a user types (pip fetches the build backend, setuptools, as it would for them), into a folder of its own.
        let install = try runProcess("/usr/bin/env", ["python3", "-m", "pip", "install", "-q", "--no-deps", "--target", target, Self.clientDirectory.path])
        #expect(install.status == 0, "\(install.stderr)")
        #expect(FileManager.default.fileExists(atPath: "\(target)/normd_client/py.typed"))
        let imported = try runProcess(
            "/usr/bin/env",
            [
                "PYTHONPATH=\(target)", "python3", "-c",
                "import normd_client, normd_client.asyncio; print(normd_client.__version__, normd_client.__file__)",
            ])
        #expect(imported.status == 0 && imported.stdout.contains(target), "\(imported)")
    }

    @Test("the README's hand-written-modules example, its module formulas restated in NumPy, matches normd with variance = unbiased")
    func handwrittenModules() throws {
        let script = Self.clientDirectory.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("examples/handwritten_norm.py")
        let result = try Self.python([script.path, "--normd", DaemonProcess.binary, "--numpy"])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("matches the hand-written modules"))
    }
}
