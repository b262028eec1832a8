import Foundation
import NormCore
import NormDaemon
import NormFormats
import NormTestSupport
import Testing
import ZeroMQ

@Suite("Drift: scores, alarms, replies and metrics")
struct DriftTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    /// Sends one batch and waits for its output (the key's statistics and drift are committed before it leaves).
    static func send(_ push: ZMQSocket, _ pull: ZMQSocket, key: String, shape: [Int], values: [Float]) throws {
        try push.sendTensor(key: key, header: #"{"dtype":"float32","shape":\#(shape)}"#, floats: values)
        _ = try pull.receiveTensor()
    }

    @Test("the score, channel and alarm after every batch match the float64 NumPy reference, in train and in eval")
    func matchesReference() async throws {
        let data = try JSONParser.parse(Array(try Data(contentsOf: Self.fixtures.appendingPathComponent("drift_cases.json"))))
        let shape = try #require(data["shape"]?.arrayValue).compactMap(\.intValue)
        let batches = try #require(data["batches"]?.arrayValue)
        let expected = try #require(data["expected"]?.arrayValue)
        let normd = try InProcessDaemon(pipelines: pipelineTOML(norm: "channels = 3\ndrift = \"alarm\"\ndrift_warmup = 20"))
        let push = try normd.peers.socket(.push, connect: [normd.endpoint("bn", "in")])
        let pull = try normd.peers.socket(.pull, connect: [normd.endpoint("bn", "out")])
        var mode = "train"
        var alarmsBegun = 0
        var wasAlarm = false
        for (i, batch) in batches.enumerated() {
            let batchMode = try #require(batch["mode"]?.stringValue)
            if batchMode != mode {
                mode = batchMode
                #expect(try normd.controlJSON("mode bn \(mode)")["mode"]?.stringValue == mode)
            }
            let values = try #require(batch["values"]?.arrayValue).compactMap { $0.doubleValue.map(Float.init) }
            try Self.send(push, pull, key: "cam0", shape: shape, values: values)
            let drift = try #require(try normd.controlJSON("show bn cam0")["keys"]?["cam0"]?["drift"])
            let want = expected[i]
            let score = try #require(drift["score"]?.doubleValue)
            let wantScore = try #require(want["score"]?.doubleValue)
            #expect(abs(score - wantScore) <= 1e-9 * max(1, wantScore), "batch \(i): score \(score), reference \(wantScore)")
            #expect(drift["channel"]?.intValue == want["channel"]?.intValue, "batch \(i)")
            #expect(drift["alarm"]?.boolValue == want["alarm"]?.boolValue, "batch \(i)")
            let alarm = want["alarm"]?.boolValue ?? false
            if alarm && !wasAlarm { alarmsBegun += 1 }
            wasAlarm = alarm
        }
        #expect(alarmsBegun > 0)
        let metrics = normd.daemon.metricsTextUncached()
        #expect(metrics.contains("normd_drift_alarms_total{pipeline=\"bn\"} \(alarmsBegun)\n"))
        #expect(metrics.contains("normd_drift_score{pipeline=\"bn\",key=\"cam0\"} "))
        try await normd.stop()
    }

    /// `[8, 4, 64]` batches, mean 1 and standard deviation 2 on every channel, with `change`
    /// applied to each batch's values of one channel.
    static func batch(seed: UInt64, channel: Int = 0, change: (Float) -> Float = { $0 }) -> [Float] {
        var values = seededFloats(8 * 4 * 64, seed: seed, mean: 1, std: 2)
        for n in 0..<8 {
            for s in 0..<64 { values[(n * 4 + channel) * 64 + s] = change(values[(n * 4 + channel) * 64 + s]) }
        }
        return values
    }

    @Test(
        "a stationary stream raises nothing over 2,000 batches; a 3σ step on one channel and a doubled variance each alarm within three batches, naming key and channel"
    )
    func stationaryStepAndVariance() async throws {
        let log = CapturedLog()
        let normd = try InProcessDaemon(pipelines: pipelineTOML(norm: "drift = \"alarm\""), log: log)
        let push = try normd.peers.socket(.push, connect: [normd.endpoint("bn", "in")])
        let pull = try normd.peers.socket(.pull, connect: [normd.endpoint("bn", "out")])
        let shape = [8, 4, 64]
        for i in 0..<2_000 { try Self.send(push, pull, key: "steady", shape: shape, values: Self.batch(seed: UInt64(i))) }
        let steady = try #require(try normd.controlJSON("drift bn")["keys"]?.arrayValue?.first)
        #expect(steady["key"]?.stringValue == "steady" && steady["alarm"]?.boolValue == false)
        #expect((steady["score"]?.doubleValue ?? 9) < 1, "a stationary stream scored \(steady)")
        #expect(!normd.daemon.metricsTextUncached().contains("normd_drift_alarms_total{pipeline=\"bn\"} 1"))

        // Two more keys, warmed up on the same stream, then changed on one channel each.
        for i in 0..<60 {
            try Self.send(push, pull, key: "step", shape: shape, values: Self.batch(seed: 10_000 + UInt64(i)))
            try Self.send(push, pull, key: "wide", shape: shape, values: Self.batch(seed: 20_000 + UInt64(i)))
        }
        var stepAlarmAfter: Int?
        var wideAlarmAfter: Int?
        for i in 1...3 {
            try Self.send(push, pull, key: "step", shape: shape, values: Self.batch(seed: 30_000 + UInt64(i), channel: 2) { $0 + 6 })
            try Self.send(
                push, pull, key: "wide", shape: shape, values: Self.batch(seed: 40_000 + UInt64(i), channel: 3) { ($0 - 1) * Float(2).squareRoot() + 1 })
            let keys = try #require(try normd.controlJSON("drift bn")["keys"]?.arrayValue)
            func entry(_ key: String) -> JSONValue? { keys.first { $0["key"]?.stringValue == key } }
            if stepAlarmAfter == nil, entry("step")?["alarm"]?.boolValue == true {
                stepAlarmAfter = i
                #expect(entry("step")?["channel"]?.intValue == 2)
            }
            if wideAlarmAfter == nil, entry("wide")?["alarm"]?.boolValue == true {
                wideAlarmAfter = i
                #expect(entry("wide")?["channel"]?.intValue == 3)
            }
        }
        #expect(stepAlarmAfter != nil, "no alarm within 3 batches of a 3σ mean step")
        #expect(wideAlarmAfter != nil, "no alarm within 3 batches of a doubled variance")
        let keys = try #require(try normd.controlJSON("drift bn")["keys"]?.arrayValue).compactMap { $0["key"]?.stringValue }
        #expect(keys.last == "steady", "keys are listed highest score first: \(keys)")
        #expect(normd.daemon.metricsTextUncached().contains("normd_drift_alarms_total{pipeline=\"bn\"} 2\n"))
        let alarms = log.all.filter { $0.message == "drift alarm" && $0.level == .warning }
        #expect(alarms.count == 2)
        #expect(alarms.contains { $0.metadata["key"] == "step" && $0.metadata["channel"] == "2" })
        #expect(alarms.contains { $0.metadata["key"] == "wide" && $0.metadata["channel"] == "3" })
        try await normd.stop()
    }

    @Test("observe scores without alarms; off and kinds without running statistics show no drift; reset clears it")
    func modes() async throws {
        let normd = try InProcessDaemon(
            pipelines: pipelineTOML(norm: "drift = \"observe\"\ndrift_warmup = 0") + "\n" + pipelineTOML("plain") + "\n"
                + pipelineTOML("gn", kind: "group", norm: "groups = 2"))
        let push = try normd.peers.socket(.push, connect: [normd.endpoint("bn", "in")])
        let pull = try normd.peers.socket(.pull, connect: [normd.endpoint("bn", "out")])
        for i in 0..<3 { try Self.send(push, pull, key: "k", shape: [8, 4, 64], values: Self.batch(seed: UInt64(i), channel: 1) { $0 + 20 }) }
        let drift = try #require(try normd.controlJSON("show bn k")["keys"]?["k"]?["drift"])
        #expect((drift["score"]?.doubleValue ?? 0) > 2 && drift["alarm"]?.boolValue == false)
        #expect(normd.daemon.metricsTextUncached().contains("normd_drift_alarms_total{pipeline=\"bn\"} 0\n"))
        #expect(try normd.controlJSON("drift plain")["drift"]?.stringValue == "off")
        #expect(try normd.controlJSON("drift plain")["keys"]?.arrayValue == [])
        #expect(try normd.controlJSON("drift gn")["drift"]?.stringValue == "off")
        _ = try normd.controlJSON("reset bn k")
        #expect(try normd.controlJSON("show bn k")["keys"]?["k"]?["drift"]?["score"]?.doubleValue == 0)
        #expect(try normd.controlJSON("drift")["error"]?.stringValue == "bad_argument")
        try await normd.stop()
    }
}
