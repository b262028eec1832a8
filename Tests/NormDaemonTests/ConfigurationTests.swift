import Foundation
import NormCore
import Testing

@testable import NormDaemon

@Suite("Configuration loading")
struct ConfigurationTests {
    static let environment = ["HOME": "/home/u", "XDG_RUNTIME_DIR": "/run/user/1000"]

    func problems(_ text: String) -> [String] {
        do {
            _ = try ConfigurationLoader.parse(text, file: "normd.toml", environment: Self.environment)
            return []
        } catch {
            return error.problems.map(\.description)
        }
    }

    @Test("the embedded default is one batch pipeline from PULL :5555 to PUSH :5556")
    func embeddedDefault() throws {
        let loaded = try ConfigurationLoader.parse(ConfigurationLoader.embeddedDefault, file: "<embedded>", environment: Self.environment)
        let p = try #require(loaded.configuration.pipelines.first)
        #expect(loaded.configuration.pipelines.count == 1)
        #expect(p.name == "default" && p.input.socket == .pull && p.input.bind == ["tcp://127.0.0.1:5555"])
        #expect(p.output.socket == .push && p.output.bind == ["tcp://127.0.0.1:5556"] && p.output.whenFull == .block)
        #expect(p.norm.kind == .batch && p.norm.channels == 0 && p.norm.momentum == .factor(0.1) && p.norm.mode == .train && p.norm.stats == .perKey)
        #expect(loaded.warnings.isEmpty)
    }

    @Test("errors name the file, the line and the dotted key")
    func errorLines() {
        let text = """
            [daemon]
            threads = "two"

            [[pipeline]]
            name = "a"
            [pipeline.input]
            socket = "pull"
            bind = ["tcp://127.0.0.1:5555"]
            [pipeline.output]
            socket = "push"
            bind = ["tcp://127.0.0.1:5556"]
            [pipeline.norm]
            kind = "group"
            channels = 64
            groups = 7
            colour = "blue"

            [[pipeline]]
            name = "b"
            [pipeline.input]
            socket = "pull"
            connect = ["tcp://nowhere"]
            [pipeline.output]
            socket = "pub"
            bind = ["udp://127.0.0.1:1"]
            [pipeline.norm]
            kind = "layer"
            track_running_stats = true
            """
        #expect(
            problems(text).sorted()
                == [
                    "normd.toml:15: pipeline[0].norm.groups: 7 does not divide channels 64",
                    "normd.toml:16: pipeline[0].norm.colour: unknown key",
                    "normd.toml:22: pipeline[1].input.connect[0]: \"tcp://nowhere\" needs HOST:PORT",
                    "normd.toml:25: pipeline[1].output.bind[0]: \"udp://127.0.0.1:1\": transport udp is not supported (tcp, ipc, inproc)",
                    "normd.toml:28: pipeline[1].norm.track_running_stats: applies to kind \"instance\" only, not \"layer\"",
                    "normd.toml:2: daemon.threads: expected an integer, found a string",
                ].sorted())
    }

    @Test(
        "bad values are refused",
        arguments: [
            ("kind = \"weird\"", "pipeline[0].norm.kind: \"weird\" is not one of"),
            ("momentum = 1.5", "pipeline[0].norm.momentum: expected a number in [0, 1] or \"cumulative\""),
            ("eps = 0", "pipeline[0].norm.eps: 0.0 is out of range"),
            ("channels = -1", "pipeline[0].norm.channels: -1 is below the minimum 0"),
            ("init = \"x.safetensors\"", "pipeline[0].norm.init: needs a fixed channels"),
            ("nonfinite = \"ignore\"", "pipeline[0].norm.nonfinite"),
        ])
    func badValues(line: String, message: String) {
        let text =
            "[[pipeline]]\nname = \"a\"\n[pipeline.input]\nbind = [\"ipc:///tmp/a\"]\n[pipeline.output]\nbind = [\"ipc:///tmp/b\"]\n[pipeline.norm]\n\(line)\n"
        let found = problems(text)
        #expect(found.count == 1)
        #expect(found.first?.contains(message) == true, "\(found)")
        #expect(found.first?.hasPrefix("normd.toml:8: ") == true, "\(found)")
    }

    @Test(
        "values past what the machine or ZeroMQ can hold are refused, not clamped or allocated: threads (each a lane), hwm (a C int), a fixed channels (arrays at start)",
        arguments: [
            ("threads = 1025", "", "", "", "normd.toml:2: daemon.threads: 1025 is above the maximum 1024"),
            ("threads = 4611686018427387904", "", "", "", "normd.toml:2: daemon.threads: 4611686018427387904 is above the maximum 1024"),
            ("", "hwm = 2147483648", "", "", "normd.toml:7: pipeline[0].input.hwm: 2147483648 is above the maximum 2147483647"),
            ("", "", "hwm = 2147483648", "", "normd.toml:10: pipeline[0].output.hwm: 2147483648 is above the maximum 2147483647"),
            ("", "", "", "channels = 16777217", "normd.toml:13: pipeline[0].norm.channels: 16777217 is above the maximum 16777216"),
        ])
    func valuesAboveTheirMaximum(daemon: String, input: String, output: String, norm: String, message: String) {
        func text(_ daemon: String, _ input: String, _ output: String, _ norm: String) -> String {
            """
            [daemon]
            \(daemon)
            [[pipeline]]
            name = "a"
            [pipeline.input]
            bind = ["ipc:///tmp/a"]
            \(input)
            [pipeline.output]
            bind = ["ipc:///tmp/b"]
            \(output)
            [pipeline.norm]
            kind = "group"
            \(norm)

            """
        }
        #expect(problems(text(daemon, input, output, norm)) == [message])
        // The maximum itself is taken.
        let largest = [daemon, input, output, norm].map {
            $0.replacingOccurrences(of: "1025", with: "1024").replacingOccurrences(of: "4611686018427387904", with: "1024")
                .replacingOccurrences(of: "2147483648", with: "2147483647").replacingOccurrences(of: "16777217", with: "16777216")
        }
        #expect(problems(text(largest[0], largest[1], largest[2], largest[3])).isEmpty)
    }

    @Test("a pipeline name too long for the state files it names is refused at check-config, not at the first start")
    func nameLength() {
        func text(_ name: String) -> String {
            "[[pipeline]]\nname = \"\(name)\"\n[pipeline.input]\nbind = [\"ipc:///tmp/a\"]\n[pipeline.output]\nbind = [\"ipc:///tmp/b\"]\n"
        }
        #expect(
            problems(text(String(repeating: "n", count: 201))) == ["normd.toml:2: pipeline[0].name: is 201 bytes, longer than 200 (it names the state files)"])
        #expect(problems(text(String(repeating: "é", count: 100))).isEmpty)  // 200 bytes
    }

    @Test("names \"a\" and \"a.prev\", whose state files would be one file, are refused in either order")
    func namesSharingAStateFile() {
        func text(_ names: String...) -> String {
            names.enumerated().map { index, name in
                "[[pipeline]]\nname = \"\(name)\"\n[pipeline.input]\nbind = [\"ipc:///tmp/in\(index)\"]\n[pipeline.output]\nbind = [\"ipc:///tmp/out\(index)\"]\n"
            }.joined()
        }
        let message =
            "pipeline[1].name: \"a.prev\" would share a state file with pipeline \"a\" (a.prev.safetensors is also its previous generation); choose another name"
        #expect(problems(text("a", "a.prev")) == ["normd.toml:8: " + message])
        #expect(problems(text("a.prev", "a")) == ["normd.toml:2: " + message.replacingOccurrences(of: "[1]", with: "[0]")])
        // Alone, or beside other names, a name ending in .prev is fine.
        #expect(problems(text("a.prev")).isEmpty)
        #expect(problems(text("a.prev", "b", "a.prev.prev.x")).isEmpty)
        #expect(
            problems(text("a.prev", "a.prev.prev")) == [
                "normd.toml:8: pipeline[1].name: \"a.prev.prev\" would share a state file with pipeline \"a.prev\" (a.prev.prev.safetensors is also its previous generation); choose another name"
            ])
    }

    @Test("a NUL in any string (TOML allows \\u0000) is refused: cut there, a path or endpoint would name another file")
    func nulInStrings() {
        let nul = "contains a NUL character (\\u0000), which no path, endpoint or name can hold"
        func text(daemon: String = "", name: String = "a", bind: String = "ipc:///tmp/in") -> String {
            "[daemon]\n\(daemon)\n[[pipeline]]\nname = \"\(name)\"\n[pipeline.input]\nbind = [\"ipc:///tmp/other\", \"\(bind)\"]\n[pipeline.output]\nbind = [\"ipc:///tmp/out\"]\n"
        }
        #expect(problems(text()).isEmpty)
        #expect(problems(text(name: "a\\u0000b")) == ["normd.toml:4: pipeline[0].name: " + nul])
        #expect(problems(text(bind: "ipc:///tmp/in\\u0000x")) == ["normd.toml:6: pipeline[0].input.bind[1]: " + nul])
        #expect(problems(text(daemon: "state_dir = \"/tmp/s\\u0000x\"")) == ["normd.toml:2: daemon.state_dir: " + nul])
        #expect(problems(text(daemon: "control_socket = \"/tmp/c\\u0000.sock\"")) == ["normd.toml:2: daemon.control_socket: " + nul])
    }

    @Test("duplicate names, no pipeline, TOML syntax errors")
    func structural() {
        let one = "[[pipeline]]\nname = \"a\"\n[pipeline.input]\nbind = [\"ipc:///tmp/a\"]\n[pipeline.output]\nbind = [\"ipc:///tmp/b\"]\n"
        #expect(
            problems(one + one.replacingOccurrences(of: "/tmp/", with: "/tmp/second-")) == [
                "normd.toml:8: pipeline[1].name: \"a\" is already the name of another pipeline"
            ])
        #expect(problems("[daemon]\n") == ["normd.toml: pipeline: no [[pipeline]] is configured"])
        // A byte order mark first (Windows editors) and CRLF line ends read as the plain file does.
        #expect(problems("\u{FEFF}" + one.replacingOccurrences(of: "\n", with: "\r\n")).isEmpty)
        #expect(problems("\u{FEFF}[daemon\n") == problems("[daemon\n"))
        let syntax = problems("[daemon\nthreads = 1\n")
        #expect(syntax.count == 1 && syntax[0].hasPrefix("normd.toml:1: "))
    }

    @Test("a configuration read from a pipe (a process substitution, /dev/stdin) loads as a file does; a file that cannot be read says why")
    func readFromPipe() throws {
        var ends: [Int32] = [0, 0]
        #expect(pipe(&ends) == 0)
        let text = "[[pipeline]]\nname = \"piped\"\n[pipeline.input]\nbind = [\"ipc:///tmp/a\"]\n[pipeline.output]\nbind = [\"ipc:///tmp/b\"]\n"
        #expect(text.utf8.withContiguousStorageIfAvailable { write(ends[1], $0.baseAddress, $0.count) } == text.utf8.count)
        close(ends[1])
        defer { close(ends[0]) }
        let loaded = try ConfigurationLoader.load(path: "/dev/fd/\(ends[0])", environment: Self.environment)
        #expect(loaded.configuration.pipelines.map(\.name) == ["piped"])

        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("normd-config-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let latin1 = folder.appendingPathComponent("latin1.toml")
        try Data([0x23, 0x20, 0xE9, 0x0A]).write(to: latin1)
        for (path, why) in [
            (folder.appendingPathComponent("none.toml").path, "No such file or directory"), (folder.path, "Is a directory"), (latin1.path, "not UTF-8 text"),
            // A path that never ends is given up on at the limit, not read until memory runs out.
            ("/dev/zero", "longer than 16777216 bytes: not a file normd reads (is it a device or an endless pipe?)"),
        ] {
            let error = #expect(throws: ConfigurationError.self) { _ = try ConfigurationLoader.load(path: path, environment: Self.environment) }
            #expect(error?.description == "\(path): cannot read: \(why)", "\(String(describing: error))")
        }
    }

    @Test("a Unix socket path longer than sun_path holds (107 bytes) is a configuration error, as run would fail on it; 107 is fine")
    func unixSocketPathLength() {
        let long = "/tmp/" + String(repeating: "a", count: 103)  // 108 bytes
        let fits = String(long.dropLast())
        let text = """
            [daemon]
            control_socket = "\(long)"
            [[pipeline]]
            name = "a"
            [pipeline.input]
            bind = ["ipc://\(long)", "ipc://\(fits)"]
            [pipeline.output]
            bind = ["inproc://\(long)\(long)"]
            """
        #expect(
            problems(text) == [
                "normd.toml:2: daemon.control_socket: the path is 108 bytes; a Unix socket's path holds at most 107",
                "normd.toml:6: pipeline[0].input.bind[0]: \"ipc://\(long)\": the path is 108 bytes; a Unix socket's path holds at most 107",
            ])
    }

    @Test("keys that do not apply to the kind are accepted with a warning")
    func warnings() throws {
        let text =
            "[[pipeline]]\nname = \"a\"\n[pipeline.input]\nbind = [\"ipc:///tmp/a\"]\n[pipeline.output]\nbind = [\"ipc:///tmp/b\"]\n[pipeline.norm]\nkind = \"group\"\ngroups = 2\nmomentum = 0.3\n"
        let loaded = try ConfigurationLoader.parse(text, file: "normd.toml", environment: Self.environment)
        #expect(
            loaded.warnings.map(\.description) == [
                "normd.toml:10: pipeline[0].norm.momentum: does not apply to kind \"group\" without running statistics; ignored"
            ])
    }

    @Test("a JetStream input keeps max_keys by rejecting new keys, and cannot evict")
    func clusterKeyLimit() throws {
        let cluster =
            "[[pipeline]]\nname = \"a\"\n[pipeline.input]\nsocket = \"jetstream\"\n[pipeline.output]\nbind = [\"ipc:///tmp/b\"]\n[pipeline.norm]\nmax_keys = 100\n"
        let loaded = try ConfigurationLoader.parse(cluster + "key_policy = \"reject\"\n", file: "normd.toml", environment: Self.environment)
        #expect(loaded.warnings.isEmpty, "\(loaded.warnings)")
        #expect(loaded.configuration.pipelines.first?.norm.maxKeys == 100)
        #expect(
            problems(cluster + "key_policy = \"evict_lru\"\n") == [
                "normd.toml:9: pipeline[0].norm.key_policy: \"evict_lru\" cannot be kept with a JetStream input: its state bucket refuses keys beyond max_keys; use \"reject\""
            ])
        // Without a limit, or for a kind without running statistics, the policy decides nothing.
        #expect(problems(cluster.replacingOccurrences(of: "max_keys = 100", with: "max_keys = 0") + "key_policy = \"evict_lru\"\n").isEmpty)
        #expect(problems(cluster + "kind = \"layer\"\nkey_policy = \"evict_lru\"\n").isEmpty)
    }

    @Test("the rendered effective configuration parses back to the same configuration")
    func renderRoundTrip() throws {
        let text = """
            [daemon]
            threads = 3
            [[pipeline]]
            name = "x"
            [pipeline.input]
            socket = "sub"
            connect = ["tcp://127.0.0.1:7000"]
            topics = ["cam", ""]
            [pipeline.output]
            socket = "pub"
            bind = ["ipc:///tmp/o"]
            dtype = "float16"
            topic = "out \\"quoted\\""
            [pipeline.norm]
            kind = "instance"
            track_running_stats = true
            momentum = "cumulative"
            eps = 0.001
            """
        let first = try ConfigurationLoader.parse(text, file: "a", environment: Self.environment).configuration
        let rendered = ConfigurationRenderer.render(first)
        let second = try ConfigurationLoader.parse(rendered, file: "b", environment: Self.environment).configuration
        #expect(first == second)
        #expect(first.pipelines[0].output.whenFull == .drop, "pub outputs drop by default")
        #expect(first.daemon.controlSocket == "/run/user/1000/normd/normd.sock" || first.daemon.controlSocket == "/run/normd/normd.sock")
    }

    @Test("the rendered effective configuration of a JetStream pipeline keeps its server, streams and partitions")
    func renderRoundTripJetStream() throws {
        let text = """
            [[pipeline]]
            name = "c"
            [pipeline.input]
            socket = "jetstream"
            urls = ["nats://10.0.0.1:4222", "nats://10.0.0.2:4222"]
            stream = "FEATURES"
            subject_prefix = "features.in"
            partitions = 12
            ack_wait_s = 2.0
            owner_timeout_s = 6.0
            [pipeline.output]
            socket = "jetstream"
            url = "nats://10.0.0.1:4222"
            stream = "FEATURES_OUT"
            subject_prefix = "features.out"
            [pipeline.norm]
            max_keys = 1000
            """
        let first = try ConfigurationLoader.parse(text, file: "a", environment: Self.environment).configuration
        let rendered = ConfigurationRenderer.render(first)
        for line in ["stream = \"FEATURES\"", "partitions = 12", "owner_timeout_s = 6.0", "stream = \"FEATURES_OUT\"", "subject_prefix = \"features.out\""] {
            #expect(rendered.contains(line), "\(line) not in\n\(rendered)")
        }
        let second = try ConfigurationLoader.parse(rendered, file: "b", environment: Self.environment).configuration
        #expect(first == second)
    }
}
