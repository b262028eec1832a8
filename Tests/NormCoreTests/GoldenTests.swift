import Testing

@testable import NormCore

@Suite("Golden values from the float64 NumPy reference")
struct GoldenTests {
    static let caseNames = GoldenFixture.shared.cases.map(\.name)

    @Test("every case matches, at 1, 2 and 7 threads with batches split mid-run", arguments: caseNames)
    func matchesReference(name: String) throws {
        let fixture = GoldenFixture.shared
        let golden = fixture.cases.first { $0.name == name }!
        for threads in [1, 2, 7] {
            try run(golden, fixture: fixture, threads: threads)
        }
    }

    /// The cases whose batches may be normalized in their own memory (same dtype out, no
    /// `nonfinite = "pass"`): the daemon does that with frames received over tcp:// and ipc://.
    static let inPlaceCaseNames = GoldenFixture.shared.cases.filter { golden in
        let dtype = DType(rawValue: golden.dtype)!
        let normalizer = Normalizer(settings: golden.settings, threads: 1)
        return golden.steps.allSatisfy { step in
            normalizer.canNormalizeInPlace(
                dtype: dtype, outputDType: DType(rawValue: golden.out_dtype)!, mode: NormMode(rawValue: step.mode)!, measureBatch: false)
        }
    }.map(\.name)

    @Test("the in-place cases cover every kind and every dtype")
    func inPlaceCoversTheKinds() {
        let cases = GoldenFixture.shared.cases.filter { Self.inPlaceCaseNames.contains($0.name) }
        #expect(Set(cases.map(\.settings.kind)) == Set(NormKind.allCases))
        #expect(Set(cases.map(\.dtype)) == Set(DType.allCases.map(\.rawValue)))
    }

    @Test("normalized in place, input and output the same memory: every such case matches, at 1, 2 and 7 threads", arguments: inPlaceCaseNames)
    func inPlaceMatchesReference(name: String) throws {
        let fixture = GoldenFixture.shared
        let golden = fixture.cases.first { $0.name == name }!
        for threads in [1, 2, 7] {
            try run(golden, fixture: fixture, threads: threads, inPlace: true)
        }
    }

    func run(_ golden: GoldenFixture.Case, fixture: GoldenFixture, threads: Int, inPlace: Bool = false) throws {
        let normalizer = Normalizer(settings: golden.settings, threads: threads, minimumElementsPerWorker: 7)
        let dtype = DType(rawValue: golden.dtype)!
        let outDType = DType(rawValue: golden.out_dtype)!
        let descriptor = TensorDescriptor(
            dtype: dtype, layout: TensorLayout(rawValue: golden.layout)!,
            geometry: try TensorGeometry(shape: golden.shape))
        var statistics: RunningStatistics? = golden.settings.hasRunningStatistics ? .initial(channels: golden.shape[1]) : nil
        for (index, step) in golden.steps.enumerated() {
            let input = fixture.bytes(step.input)
            let expected = fixture.doubles(step.expected)
            var output = inPlace ? input : [UInt8](repeating: 0, count: expected.count * outDType.itemSize)
            let outcome =
                inPlace
                ? try output.withUnsafeMutableBytes { bytes in
                    try normalizer.normalize(
                        UnsafeRawBufferPointer(bytes), as: descriptor, into: bytes, outputDType: outDType,
                        mode: NormMode(rawValue: step.mode)!, affine: golden.affine, statistics: &statistics)
                }
                : try input.withUnsafeBytes { input in
                    try output.withUnsafeMutableBytes { output in
                        try normalizer.normalize(
                            input, as: descriptor, into: output, outputDType: outDType,
                            mode: NormMode(rawValue: step.mode)!, affine: golden.affine, statistics: &statistics)
                    }
                }
            let actual = decodeValues(output, outDType)
            var worst = 0.0
            var worstIndex = 0
            for i in expected.indices {
                let excess = abs(actual[i] - expected[i]) / outputTolerance(outDType, expected[i])
                if !(excess <= worst) {
                    worst = excess
                    worstIndex = i
                }
            }
            #expect(
                worst <= 1,
                "\(golden.name) step \(index) threads \(threads)\(inPlace ? " in place" : ""): element \(worstIndex) is \(actual[worstIndex]), reference \(expected[worstIndex])"
            )
            if let mean = step.running_mean, let variance = step.running_var, let stats = statistics {
                #expect(outcome.batchesTracked == step.batches)
                for c in mean.indices {
                    #expect(abs(stats.mean[c] - mean[c]) <= 1e-9 * max(1, abs(mean[c])), "\(golden.name) step \(index) running_mean[\(c)]")
                    #expect(abs(stats.variance[c] - variance[c]) <= 1e-9 * max(1, abs(variance[c])), "\(golden.name) step \(index) running_var[\(c)]")
                }
            } else {
                #expect(outcome.batchesTracked == nil)
            }
        }
    }
}
