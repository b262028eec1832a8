import Foundation
import Testing
@testable import NormDaemon
import NormCore

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
        #expect(problems(text).sorted() == [
            "normd.toml:15: pipeline[0].norm.groups: 7 does not divide channels 64",
            "normd.toml:16: pipeline[0].norm.colour: unknown key",
            "normd.toml:22: pipeline[1].input.connect[0]: \"tcp://nowhere\" needs HOST:PORT",
            "normd.toml:25: pipeline[1].output.bind[0]: \"udp://127.0.0.1:1\": transport udp is not supported (tcp, ipc, inproc)",
            "normd.toml:28: pipeline[1].norm.track_running_stats: applies to kind \"instance\" only, not \"layer\"",
            "normd.toml:2: daemon.threads: expected an integer, found a string",
        ].sorted())
    }

    @Test("bad values are refused", arguments: [
        ("kind = \"weird\"", "pipeline[0].norm.kind: \"weird\" is not one of"),
        ("momentum = 1.5", "pipeline[0].norm.momentum: expected a number in [0, 1] or \"cumulative\""),
        ("eps = 0", "pipeline[0].norm.eps: 0.0 is out of range"),
        ("channels = -1", "pipeline[0].norm.channels: -1 is below the minimum 0"),
        ("init = \"x.safetensors\"", "pipeline[0].norm.init: needs a fixed channels"),
        ("nonfinite = \"ignore\"", "pipeline[0].norm.nonfinite"),
    ])
    func badValues(line: String, message: String) {
        let text = "[[pipeline]]\nname = \"a\"\n[pipeline.input]\nbind = [\"ipc:///tmp/a\"]\n[pipeline.output]\nbind = [\"ipc:///tmp/b\"]\n[pipeline.norm]\n\(line)\n"
        let found = problems(text)
        #expect(found.count == 1)
        #expect(found.first?.contains(message) == true, "\(found)")
        #expect(found.first?.hasPrefix("normd.toml:8: ") == true, "\(found)")
    }

    @Test("duplicate names, no pipeline, TOML syntax errors")
    func structural() {
        let one = "[[pipeline]]\nname = \"a\"\n[pipeline.input]\nbind = [\"ipc:///tmp/a\"]\n[pipeline.output]\nbind = [\"ipc:///tmp/b\"]\n"
        #expect(problems(one + one.replacingOccurrences(of: "/tmp/", with: "/tmp/second-")) == ["normd.toml:8: pipeline[1].name: \"a\" is already the name of another pipeline"])
        #expect(problems("[daemon]\n") == ["normd.toml: pipeline: no [[pipeline]] is configured"])
        let syntax = problems("[daemon\nthreads = 1\n")
        #expect(syntax.count == 1 && syntax[0].hasPrefix("normd.toml:1: "))
    }

    @Test("keys that do not apply to the kind are accepted with a warning")
    func warnings() throws {
        let text = "[[pipeline]]\nname = \"a\"\n[pipeline.input]\nbind = [\"ipc:///tmp/a\"]\n[pipeline.output]\nbind = [\"ipc:///tmp/b\"]\n[pipeline.norm]\nkind = \"group\"\ngroups = 2\nmomentum = 0.3\n"
        let loaded = try ConfigurationLoader.parse(text, file: "normd.toml", environment: Self.environment)
        #expect(loaded.warnings.map(\.description) == ["normd.toml:10: pipeline[0].norm.momentum: does not apply to kind \"group\" without running statistics; ignored"])
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
}

@Suite("Control command lines")
struct ControlCommandTests {
    @Test("words, quoted words and errors")
    func parsing() throws {
        #expect(try ControlCommand.parse("stats") == .stats)
        #expect(try ControlCommand.parse("show bn cam0") == .show(pipeline: "bn", key: "cam0"))
        #expect(try ControlCommand.parse("show bn \"\"") == .show(pipeline: "bn", key: ""))
        #expect(try ControlCommand.parse("show bn --limit 10 --after k9") == .show(pipeline: "bn", key: nil, limit: 10, after: "k9"))
        #expect(try ControlCommand.parse("show bn \"--limit\"") == .show(pipeline: "bn", key: "--limit"), "a quoted --word is a key")
        #expect(throws: ControlError.self) { try ControlCommand.parse("show bn --limit 0") }
        #expect(throws: ControlError.self) { try ControlCommand.parse("show bn --limit") }
        #expect(throws: ControlError.self) { try ControlCommand.parse("show bn --colour red") }
        #expect(try ControlCommand.parse("reset \"my pipe\" \"a key\"") == .reset(pipeline: "my pipe", key: "a key"))
        #expect(try ControlCommand.parse("mode bn eval") == .mode(pipeline: "bn", .eval))
        #expect(throws: ControlError.self) { try ControlCommand.parse("mode bn sideways") }
        #expect(throws: ControlError.self) { try ControlCommand.parse("show  bn") }
        #expect(throws: ControlError.self) { try ControlCommand.parse("dance") }
        #expect(ControlClient.commandLine(["show", "my pipe", ""]) == "show \"my pipe\" \"\"")
    }
}

@Suite("JSON and safetensors codecs")
struct CodecTests {
    @Test("integers pass through exactly; depth is limited; strings unescape")
    func json() throws {
        let value = try JSONParser.parse(#"{"a":18446744073709551615,"b":[1.5e-3,-0],"c":"\u00e9\n\ud83d\ude00"}"#)
        #expect(value.serialized == #"{"a":18446744073709551615,"b":[1.5e-3,-0],"c":"é\n😀"}"#)
        #expect(throws: JSONParser.Failure.self) { try JSONParser.parse(String(repeating: "[", count: 33) + String(repeating: "]", count: 33)) }
        #expect(try JSONParser.parse(String(repeating: "[", count: 32) + String(repeating: "]", count: 32)).arrayValue != nil)
        for bad in ["{", "[1,]", "01", "\"\\x\"", "tru", "{\"a\" 1}", "1 2"] {
            #expect(throws: JSONParser.Failure.self, "\(bad)") { try JSONParser.parse(bad) }
        }
    }

    @Test("the output header keeps every field in place, sets dtype and norm once")
    func outputHeader() throws {
        let members = try JSONParser.parse(#"{"dtype":"float16","seq":7,"dtype":"float64","x":[1]}"#).objectValue!
        let text = WireEncoder.outputHeader(members, outputDType: .float32, norm: [("kind", .string("layer"))])
        #expect(text == #"{"dtype":"float32","seq":7,"x":[1],"norm":{"kind":"layer"}}"#)
    }

    @Test("safetensors round trip; truncation is detected")
    func safetensors() throws {
        let file = SafeTensors(metadata: ["format": "x"], tensors: ["a.running_mean": .float64([1, 2.5]), "n": .int64(7)])
        let bytes = file.encoded()
        #expect(try SafeTensors.decode(bytes) == file)
        #expect(throws: SafeTensors.FormatError.self) { try SafeTensors.decode(Array(bytes.dropLast(3))) }
        #expect(throws: SafeTensors.FormatError.self) { try SafeTensors.decode(Array(bytes.prefix(20))) }
    }
}

@Suite("CPU support")
struct CPUSupportTests {
    @Test("missing AVX2/FMA/F16C are named; a complete flags line passes")
    func flags() throws {
        let directory = FileManager.default.temporaryDirectory
        let old = directory.appendingPathComponent("cpuinfo-old-\(getpid())").path
        let new = directory.appendingPathComponent("cpuinfo-new-\(getpid())").path
        try "processor : 0\nflags\t\t: fpu sse2 ssse3 sse4_2 avx\n".write(toFile: old, atomically: true, encoding: .utf8)
        try "processor : 0\nflags\t\t: fpu sse2 avx avx2 fma f16c bmi2\n".write(toFile: new, atomically: true, encoding: .utf8)
        #if arch(x86_64) && os(Linux)
        #expect(CPUSupport.missingFeatures(cpuinfo: old) == ["avx2", "fma", "f16c"])
        #endif
        #expect(CPUSupport.missingFeatures(cpuinfo: new).isEmpty)
        #expect(CPUSupport.missingFeatures().isEmpty, "this machine runs the kernels, so it must have them")
    }
}

@Suite("Endpoints bound twice")
struct DuplicateBindTests {
    static func pipeline(_ name: String, input: String, output: String, deadLetter: String = "") -> String {
        """
        [[pipeline]]
        name = "\(name)"
        [pipeline.input]
        bind = ["\(input)"]
        [pipeline.output]
        bind = ["\(output)"]
        dead_letter = "\(deadLetter)"
        """
    }

    func problems(_ text: String) -> [String] { ConfigurationTests().problems(text) }

    @Test("two pipelines bound to one ipc path, also spelled dir/./in, is an error naming both")
    func twoPipelines() {
        let found = problems(Self.pipeline("a", input: "ipc:///tmp/x/in", output: "ipc:///tmp/x/a.out")
            + "\n" + Self.pipeline("b", input: "ipc:///tmp/x/./in", output: "ipc:///tmp/x/b.out"))
        #expect(found == ["normd.toml:11: pipeline[1].input.bind[0]: ipc:///tmp/x/./in is bound also by pipeline \"a\" (pipeline[0].input.bind[0]); each endpoint can be bound once"])
    }

    @Test("one endpoint bound twice within a pipeline (input and dead letter) is an error")
    func withinOnePipeline() {
        let found = problems(Self.pipeline("a", input: "tcp://127.0.0.1:7000", output: "tcp://127.0.0.1:7001", deadLetter: "tcp://127.0.0.1:7000"))
        #expect(found.count == 1)
        #expect(found.first?.contains("pipeline[0].output.dead_letter: tcp://127.0.0.1:7000 is bound also by this pipeline (pipeline[0].input.bind[0])") == true)
    }

    @Test("distinct endpoints pass")
    func distinct() {
        #expect(problems(Self.pipeline("a", input: "ipc:///tmp/x/a.in", output: "ipc:///tmp/x/a.out")
            + "\n" + Self.pipeline("b", input: "ipc:///tmp/x/b.in", output: "ipc:///tmp/x/b.out")).isEmpty)
    }
}

@Suite("The variance key")
struct VarianceKeyTests {
    @Test("variance is biased by default, takes unbiased, refuses anything else, and is rendered")
    func variance() throws {
        let base = "[[pipeline]]\nname = \"a\"\n[pipeline.input]\nbind = [\"ipc:///tmp/a\"]\n[pipeline.output]\nbind = [\"ipc:///tmp/b\"]\n[pipeline.norm]\nkind = \"group\"\n"
        let plain = try ConfigurationLoader.parse(base, file: "normd.toml", environment: ConfigurationTests.environment)
        #expect(plain.configuration.pipelines[0].norm.settings.variance == .biased)
        let unbiased = try ConfigurationLoader.parse(base + "variance = \"unbiased\"\n", file: "normd.toml", environment: ConfigurationTests.environment)
        #expect(unbiased.configuration.pipelines[0].norm.settings.variance == .unbiased)
        #expect(ConfigurationRenderer.render(unbiased.configuration).contains("variance = \"unbiased\""))
        #expect(throws: ConfigurationError.self) {
            try ConfigurationLoader.parse(base + "variance = \"sample\"\n", file: "normd.toml", environment: ConfigurationTests.environment)
        }
    }
}
