import Foundation
import NormCore
import Testing

@testable import NormDaemon

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
        let found = problems(
            Self.pipeline("a", input: "ipc:///tmp/x/in", output: "ipc:///tmp/x/a.out")
                + "\n" + Self.pipeline("b", input: "ipc:///tmp/x/./in", output: "ipc:///tmp/x/b.out"))
        #expect(
            found == [
                "normd.toml:11: pipeline[1].input.bind[0]: ipc:///tmp/x/./in is bound also by pipeline \"a\" (pipeline[0].input.bind[0]); each endpoint can be bound once"
            ])
    }

    @Test("one endpoint bound twice within a pipeline (input and dead letter) is an error")
    func withinOnePipeline() {
        let found = problems(Self.pipeline("a", input: "tcp://127.0.0.1:7000", output: "tcp://127.0.0.1:7001", deadLetter: "tcp://127.0.0.1:7000"))
        #expect(found.count == 1)
        #expect(
            found.first?.contains("pipeline[0].output.dead_letter: tcp://127.0.0.1:7000 is bound also by this pipeline (pipeline[0].input.bind[0])") == true)
    }

    @Test("distinct endpoints pass")
    func distinct() {
        #expect(
            problems(
                Self.pipeline("a", input: "ipc:///tmp/x/a.in", output: "ipc:///tmp/x/a.out")
                    + "\n" + Self.pipeline("b", input: "ipc:///tmp/x/b.in", output: "ipc:///tmp/x/b.out")
            ).isEmpty)
    }
}
