import Foundation
import Locking
import NormCore
import NormFormats
import ZeroMQ

/// The work one lane (or the loop, for a small batch) does for one batch: check it against the
/// key's state, normalize it in place or into a pooled buffer, commit the statistics. Runs on the
/// key's serial lane, so per key it is ordered.
/// A class: handing it to a lane or keeping it for a batch done inline is one reference, where
/// the struct was copied field by field (1.6 % of the loop thread at 64 B, by perf).
final class BatchProcessor: Sendable {
    let state: PipelineState
    let normalizer: Normalizer
    let outputDType: DType?
    let outputTopic: String
    let sharedStatistics: Bool
    let pool: ZMQBufferPool
    /// No input endpoint is inproc://, so every received frame is libzmq's own copy and a batch
    /// may be normalized in place (an inproc:// peer's zero-copy frame is that peer's memory).
    let inPlaceAllowed: Bool
    /// Smaller batches go to a pooled buffer even when they may be normalized in place. libzmq
    /// decodes small frames into slices of one shared receive buffer, which stays allocated until
    /// every slice is released; sent on, the slices live until the I/O thread has sent them, so
    /// the buffer is not reused. Measured (normd bench, release, interleaved old/new pairs): in
    /// place 0.87–1.03× the pooled path at 64 B, 0.89–1.14× at 1 KiB, 1.11–1.18× at 8 KiB,
    /// 0.99–1.39× at 64 KiB, 0.99–1.18× at 1 MiB, 0.96–1.11× at 32 MiB.
    static let inPlaceMinimumBytes = 4096
    /// Drift scoring, when on; alarms are logged through `driftLog`.
    let drift: DriftSettings?
    let driftLog: RateLimitedLog

    init(
        state: PipelineState, normalizer: Normalizer, outputDType: DType?, outputTopic: String, sharedStatistics: Bool, pool: ZMQBufferPool,
        inPlaceAllowed: Bool, drift: DriftSettings?, driftLog: RateLimitedLog
    ) {
        self.state = state
        self.normalizer = normalizer
        self.outputDType = outputDType
        self.outputTopic = outputTopic
        self.sharedStatistics = sharedStatistics
        self.pool = pool
        self.inPlaceAllowed = inPlaceAllowed
        self.drift = drift
        self.driftLog = driftLog
    }

    enum Result: Sendable {
        /// The header is spliced by the loop into one array it reuses (none per message).
        case publish(topic: String, header: OutputHeader, payload: Payload)
        case reject(Rejection)
    }

    /// Where a normalized batch's bytes are.
    enum Payload: Sendable {
        /// A pooled buffer, sent zero-copy.
        case buffer(ZMQBuffer)
        /// The received message itself, normalized in place, to be sent on. Unchecked: the
        /// message belongs to one thread at a time — the loop, the lane, the loop again.
        case inPlace(UncheckedTransfer<ZMQMessage>)

        var count: Int {
            switch self {
            case .buffer(let buffer): buffer.count
            case .inPlace(let message): message.value.count
            }
        }
    }

    /// Normalizes the batch in `payload` (the received frame) in place when it may (same dtype
    /// out, no inproc:// input, and a path that reads no input after writing output: see
    /// `Normalizer.canNormalizeInPlace`), else into a pooled buffer. (Written into a frame of
    /// libzmq's own instead, a small batch was slower: 0.86× the batches/s at 64 B, 8 interleaved
    /// pairs, 0.73–1.05 — libzmq frees that frame on its I/O thread, and malloc then takes its
    /// slow path on this one for every message; the pool hands the same buffers round.)
    func process(key: String, header: InboundHeader, payload: ZMQMessage) -> Result {
        let descriptor = header.descriptor
        let storeKey = sharedStatistics ? "" : key
        var checkout: StatisticsStore.Checkout
        do {
            checkout = try state.store.checkout(key: storeKey, channels: descriptor.geometry.channels)
        } catch {
            return .reject(Rejection(.channels, error.description))
        }
        let payloadBytes = payload.count
        guard payloadBytes == descriptor.byteCount else {
            return .reject(Rejection(.payloadSize, "payload has \(payloadBytes) bytes, header needs \(descriptor.byteCount)"))
        }
        let outDType = outputDType ?? descriptor.dtype
        let mode = state.mode
        let inPlace =
            inPlaceAllowed && payloadBytes >= Self.inPlaceMinimumBytes
            && normalizer.canNormalizeInPlace(dtype: descriptor.dtype, outputDType: outDType, mode: mode, measureBatch: drift != nil)
        let output: Payload = inPlace ? .inPlace(UncheckedTransfer(payload)) : .buffer(pool.buffer(count: descriptor.geometry.byteCount(outDType)!))
        let outcome: NormOutcome
        // Drift compares the batch with the running statistics it met, before its own update.
        let running = drift == nil ? nil : checkout.statistics
        do {
            outcome = try payload.withUnsafeMutableBytes { bytes throws(NormError) in
                let into: UnsafeMutableRawBufferPointer =
                    switch output {
                    case .buffer(let buffer): buffer.buffer
                    case .inPlace: bytes
                    }
                return try normalizer.normalize(
                    UnsafeRawBufferPointer(bytes), as: descriptor, into: into, outputDType: outDType,
                    mode: mode, affine: state.affine, statistics: &checkout.statistics, measureBatch: drift != nil)
            }
        } catch {
            return .reject(Rejection(RejectReason(error.code), error.message))
        }
        var alarmBegan = false
        if let drift, let batch = outcome.batch, let running {
            var tracked = checkout.drift ?? DriftState(channels: batch.mean.count)
            alarmBegan = tracked.observe(batch, against: running, settings: drift)
            checkout.drift = tracked
        }
        do {
            try state.store.commit(checkout)
        } catch {
            return .reject(Rejection(.maxKeys, error.description))
        }
        if alarmBegan, let tracked = checkout.drift { reportAlarm(key: storeKey, tracked) }
        let outputHeader = OutputHeader(
            header, outputDType: outDType, kind: normalizer.settings.kind.rawValue, mode: mode.rawValue, batches: outcome.batchesTracked)
        return .publish(topic: outputTopic.isEmpty ? key : outputTopic, header: outputHeader, payload: output)
    }

    private func reportAlarm(key: String, _ tracked: DriftState) {
        state.counters.driftAlarm()
        let c = tracked.channel
        driftLog.warning(
            "drift alarm",
            metadata: [
                "key": "\(key)", "channel": "\(c)", "score": "\(tracked.score)",
                "mean_shift": "\(tracked.meanShift[c])", "log_variance_ratio": "\(tracked.logVarianceRatio[c])",
            ], what: "drift alarms")
    }
}
