import Testing

@testable import NormDaemon

@Suite("normd top's screen")
struct TopRendererTests {
    static func sample(at seconds: Double, published: Int, bytesOut: Int) -> TopSample {
        var p = TopSample.Pipeline(name: "features", mode: "train")
        p.received = published
        p.published = published
        p.bytesOut = bytesOut
        p.drift = "alarm"
        p.driftKeys = [("cam1", 3.25, 5, true), ("cam0", 0.5, 1, false), ("a-key", 0.1, 0, false)]
        return TopSample(uptime: 3725, pipelines: [p], takenAt: seconds)
    }

    @Test("rates come from the difference of two samples; keys by score or by name; uptime readable")
    func ratesAndKeys() {
        var renderer = TopRenderer()
        let first = Self.sample(at: 10, published: 100, bytesOut: 0)
        let second = Self.sample(at: 12, published: 300, bytesOut: 4_000_000_000)
        let screen = renderer.render(second, previous: first, history: [:])
        #expect(screen.contains("up 1h02m"))
        #expect(screen.contains("100.0") && screen.contains("2.00"), "\(screen)")  // 200 batches in 2 s; 4 GB in 2 s
        let byScore = screen.components(separatedBy: "\n").filter { $0.hasPrefix("    ") }.map { $0.trimmingCharacters(in: .whitespaces).prefix(5) }
        #expect(byScore == ["cam1 ", "cam0 ", "a-key"])
        #expect(screen.contains("ALARM"))
        renderer.keyOrder = .name
        let byName = renderer.render(second, previous: first, history: [:]).components(separatedBy: "\n").filter { $0.hasPrefix("    ") }
        #expect(byName.first?.contains("a-key") == true)
        #expect(renderer.render(second, previous: nil, history: [:]).contains(" -  "), "no rates on the first screen")
    }

    @Test("a key holding control characters (a producer's escape sequence) is shown escaped, never sent to the terminal as is")
    func controlCharactersInKeys() {
        var sample = Self.sample(at: 10, published: 1, bytesOut: 0)
        sample.pipelines[0].driftKeys = [("\u{1B}]52;c;eA==\u{07}", 3, 0, true), ("k\u{9B}2J\u{7F}", 2, 0, false), ("caméra", 1, 0, false)]
        let screen = TopRenderer().render(sample, previous: nil, history: [:])
        #expect(!screen.unicodeScalars.contains { $0.properties.generalCategory == .control && $0 != "\n" }, "\(screen.debugDescription)")
        #expect(screen.contains("\\u{1B}]52;c;eA==\\u{7}") && screen.contains("k\\u{9B}2J\\u{7F}") && screen.contains("caméra"), "\(screen)")
    }

    @Test("a socket that is not normd's: a reply that is not JSON, or has no pipelines, is an error that says so", arguments: ["garbage", "{}", "[1]"])
    func notNormd(reply: String) {
        let error = #expect(throws: TopError.self) { _ = try TopSample.read(takenAt: 0) { _ in reply } }
        #expect(error?.description.hasSuffix("is this normd's control socket?") == true, "\(String(describing: error))")
    }

    @Test("sparklines scale to their peak; lines never exceed the width")
    func sparklineAndWidth() {
        #expect(TopRenderer.sparkline([0, 1, 2, 4, 8]) == "▁▂▃▅█")
        #expect(TopRenderer.sparkline([0, 0]) == "▁▁")
        var renderer = TopRenderer()
        renderer.width = 40
        let screen = renderer.render(Self.sample(at: 1, published: 1, bytesOut: 1), previous: nil, history: ["features": [1, 2, 3]])
        #expect(screen.contains("out/s ▃▆█"))  // round(v ÷ 3 × 7) = 2, 5, 7
        #expect(screen.components(separatedBy: "\n").allSatisfy { $0.count <= 40 })
    }
}
