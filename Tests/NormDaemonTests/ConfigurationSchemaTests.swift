import Foundation
import Testing

@testable import NormDaemon

@Suite("The configuration schema")
struct ConfigurationSchemaTests {
    static let exampleFile = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("config/normd.toml")

    /// Every key the schema declares, dotted as the example writes them.
    static var declaredKeys: [String] {
        ConfigurationSchema.daemon.keys.map { "daemon.\($0.name)" } + ["pipeline.name"]
            + ConfigurationSchema.input.keys.map { "pipeline.input.\($0.name)" }
            + ConfigurationSchema.curve("input").keys.map { "pipeline.input.curve.\($0.name)" }
            + ConfigurationSchema.output.keys.map { "pipeline.output.\($0.name)" }
            + ConfigurationSchema.curve("output").keys.map { "pipeline.output.curve.\($0.name)" }
            + ConfigurationSchema.norm.keys.map { "pipeline.norm.\($0.name)" }
    }

    @Test("config/normd.toml is the example the schema writes (NORMD_WRITE_EXAMPLE=1 rewrites it)")
    func exampleIsCurrent() throws {
        let expected = ConfigurationSchema.example()
        if ProcessInfo.processInfo.environment["NORMD_WRITE_EXAMPLE"] == "1" {
            try expected.write(to: Self.exampleFile, atomically: true, encoding: .utf8)
        }
        let actual = try String(contentsOf: Self.exampleFile, encoding: .utf8)
        #expect(
            actual == expected,
            "config/normd.toml differs from ConfigurationSchema.example(); run NORMD_WRITE_EXAMPLE=1 swift test --filter ConfigurationSchemaTests")
    }

    @Test("the example loads: every problem it has is the control group this machine may lack")
    func exampleLoads() throws {
        let text = ConfigurationSchema.example()
        do {
            let loaded = try ConfigurationLoader.parse(text, file: "normd.toml", environment: ConfigurationTests.environment)
            #expect(loaded.configuration.pipelines.map(\.name) == ["features"])
            #expect(loaded.configuration.pipelines[0].norm.groups == 8)
        } catch {
            #expect(error.problems.allSatisfy { $0.key == "daemon.control_group" }, "\(error)")
        }
    }

    @Test("each key is declared once and documented; the effective configuration shows every non-CURVE key")
    func keysAreDeclaredOnce() throws {
        let keys = Self.declaredKeys
        #expect(Set(keys).count == keys.count, "a key declared twice")
        let sections: [[String]] = [
            ConfigurationSchema.daemon.keys.map(\.doc), ConfigurationSchema.input.keys.map(\.doc),
            ConfigurationSchema.output.keys.map(\.doc), ConfigurationSchema.norm.keys.map(\.doc),
            ConfigurationSchema.curve("input").keys.map(\.doc),
        ]
        #expect(sections.joined().allSatisfy { !$0.isEmpty })
        let rendered = ConfigurationRenderer.render(
            try ConfigurationLoader.parse(ConfigurationLoader.embeddedDefault, file: "<embedded>", environment: ConfigurationTests.environment).configuration)
        for key in keys where !key.contains(".curve.") {
            let name = String(key.split(separator: ".").last!)
            #expect(rendered.contains("\n\(name) = "), "check-config does not show \(key)")
        }
    }
}
