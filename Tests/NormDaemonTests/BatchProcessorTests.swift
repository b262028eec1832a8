import Logging
import NormCore
import NormFormats
import NormTestSupport
import Testing
import ZeroMQ

@testable import NormDaemon

/// A batch leaves `BatchProcessor.process` in a pooled buffer or in the received frame itself
/// (normalized in place, where the pipeline allows it and the batch is large enough): the bytes,
/// the header and the running statistics must be the same either way.
@Suite("Batch processor: pooled buffer and in place agree")
struct BatchProcessorTests {
    enum Path: CaseIterable { case pooled, inPlace }

    static func processor(_ settings: NormSettings, outputDType: DType?, inPlaceAllowed: Bool) -> BatchProcessor {
        let store = StatisticsStore(configuredChannels: 0, keepsStatistics: settings.hasRunningStatistics)
        let state = PipelineState(name: "p", store: store, affine: nil, mode: .train, configuredMode: .train)
        let logger = Logger(label: "test")
        return BatchProcessor(
            state: state, normalizer: Normalizer(settings: settings, threads: 2), outputDType: outputDType, outputTopic: "",
            sharedStatistics: false, pool: ZMQBufferPool(limit: 2), inPlaceAllowed: inPlaceAllowed, drift: nil,
            driftLog: RateLimitedLog(logger: logger, perInterval: 1, intervalSeconds: 60))
    }

    /// Runs one batch through `processor` by `path`; returns the output's header and payload.
    static func run(
        _ processor: BatchProcessor, _ path: Path, header: InboundHeader, payload: [UInt8], inPlace: Bool
    ) throws -> (header: [UInt8], payload: [UInt8]) {
        let result = processor.process(key: "k", header: header, payload: try ZMQMessage(payload))
        guard case .publish(_, let outputHeader, let output) = result else {
            throw TestFailure("rejected: \(result)")
        }
        let bytes: [UInt8]
        switch output {
        case .buffer(let buffer):
            #expect(path == .pooled || (path == .inPlace && !inPlace))
            bytes = Array(UnsafeRawBufferPointer(buffer.buffer))
        case .inPlace(let message):
            #expect(path == .inPlace && inPlace)
            bytes = message.value.bytes
        }
        return (outputHeader.bytes, bytes)
    }

    @Test(
        "every kind and dtype, the same dtype out and float32 out, train then eval, small and in-place sizes: the same bytes, header and statistics",
        arguments: NormKind.allCases)
    func samePaths(kind: NormKind) throws {
        let settings = NormSettings(kind: kind, groups: kind == .group ? 2 : 1, trackRunningStats: kind == .instance)
        let decoder = WireDecoder(maxMessageBytes: 1 << 24, channels: 0, groups: nil)
        var compared = 0
        for dtype in DType.allCases {
            for outputDType in [nil, DType.float32] {
                let processors = Dictionary(
                    uniqueKeysWithValues: Path.allCases.map { ($0, Self.processor(settings, outputDType: outputDType, inPlaceAllowed: $0 == .inPlace)) })
                for (batch, shape) in [(0, [2, 4, 2]), (1, [8, 4, 64]), (2, [2, 4, 2]), (3, [8, 4, 64])] {
                    let mode: NormMode = batch < 2 || !settings.hasRunningStatistics ? .train : .eval
                    for processor in processors.values { processor.state.mode = mode }
                    let values = seededFloats(shape.reduce(1, *), seed: UInt64(100 * batch + compared), mean: 2, std: 3)
                    let payload = payloadBytes(values, dtype)
                    let text = #"{"dtype":"\#(dtype.rawValue)","shape":\#(shape),"seq":\#(batch)}"#
                    let header = try Array("k".utf8).withUnsafeBytes { k in
                        try Array(text.utf8).withUnsafeBytes { h in try decoder.decode(keyFrame: k, headerFrame: h) }
                    }
                    var outputs: [Path: (header: [UInt8], payload: [UInt8])] = [:]
                    // In place where the processor may: the same dtype out and a batch large enough.
                    let inPlace = (outputDType ?? dtype) == dtype && payload.count >= BatchProcessor.inPlaceMinimumBytes
                    for path in Path.allCases {
                        outputs[path] = try Self.run(processors[path]!, path, header: header, payload: payload, inPlace: inPlace)
                    }
                    let reference = try #require(outputs[.pooled])
                    #expect(reference.payload.count == shape.reduce(1, *) * (outputDType ?? dtype).itemSize)
                    for (path, output) in outputs where path != .pooled {
                        let differing = zip(output.payload, reference.payload).filter { $0 != $1 }.count
                        #expect(
                            output.payload.count == reference.payload.count && differing == 0,
                            "\(kind) \(dtype)→\(String(describing: outputDType)) \(mode) \(shape) \(path): \(differing) bytes differ")
                        #expect(output.header == reference.header)
                        compared += 1
                    }
                }
                let statistics = processors.values.map { $0.state.store.entry("k")?.statistics }
                #expect(statistics.allSatisfy { $0 == statistics[0] }, "\(kind) \(dtype): running statistics differ between paths")
                #expect(settings.hasRunningStatistics == (statistics[0]?.batchesTracked == 2))
            }
        }
        #expect(compared == DType.allCases.count * 2 * 4)
    }
}
