import Foundation
import Testing

@testable import NormDaemon

@Suite("Cluster mode: the settings every instance of a pipeline should hold")
struct ClusterAgreementTests {
    @Test("what instances must agree on: the norm keys that decide the numbers and the output dtype, not the mode ctl sets per instance")
    func agreementLines() {
        var config = PipelineConfiguration(name: "p")
        let base = Pipeline.agreement(config)
        #expect(base.contains("momentum = 0.1") && base.contains("kind = \"batch\"") && base.hasSuffix("dtype = same") && !base.contains("mode ="), "\(base)")
        config.norm.mode = .eval
        config.norm.drift = .alarm
        #expect(Pipeline.agreement(config) == base)
        config.norm.eps = 1e-3
        #expect(Pipeline.agreement(config) != base)
    }
}
