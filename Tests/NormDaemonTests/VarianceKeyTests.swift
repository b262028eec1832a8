import Foundation
import NormCore
import Testing

@testable import NormDaemon

@Suite("The variance key")
struct VarianceKeyTests {
    @Test("variance is biased by default, takes unbiased, refuses anything else, and is rendered")
    func variance() throws {
        let base =
            "[[pipeline]]\nname = \"a\"\n[pipeline.input]\nbind = [\"ipc:///tmp/a\"]\n[pipeline.output]\nbind = [\"ipc:///tmp/b\"]\n[pipeline.norm]\nkind = \"group\"\n"
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
