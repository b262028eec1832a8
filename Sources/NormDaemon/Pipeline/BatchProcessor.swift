import Foundation
import NormCore
import NormFormats
import ZeroMQ

/// The work one lane does for one batch: check it against the key's state, normalize it into a
/// pooled buffer, commit the statistics. Runs on the key's serial lane, so per key it is ordered.
/// A class: handing it to a lane or keeping it for a batch done inline is one reference, where
/// the struct was copied field by field (1.6 % of the loop thread at 64 B, by perf).
final class BatchProcessor: Sendable {
    let state: PipelineState
    let normalizer: Normalizer
    let outputDType: DType?
    let outputTopic: String
    let sharedStatistics: Bool
    let pool: ZMQBufferPool
    /// Drift scoring, when on; alarms are logged through `driftLog`.
    let drift: DriftSettings?
    let driftLog: RateLimitedLog

    init(
        state: PipelineState, normalizer: Normalizer, outputDType: DType?, outputTopic: String, sharedStatistics: Bool, pool: ZMQBufferPool,
        drift: DriftSettings?, driftLog: RateLimitedLog
    ) {
        self.state = state
        self.normalizer = normalizer
        self.outputDType = outputDType
        self.outputTopic = outputTopic
        self.sharedStatistics = sharedStatistics
        self.pool = pool
        self.drift = drift
        self.driftLog = driftLog
    }

    enum Result: Sendable {
        case publish(topic: String, header: [UInt8], payload: ZMQBuffer)
        case reject(Rejection)
    }

    func process(key: String, header: InboundHeader, payload: UnsafeRawBufferPointer) -> Result {
        let descriptor = header.descriptor
        let storeKey = sharedStatistics ? "" : key
        var checkout: StatisticsStore.Checkout
        do {
            checkout = try state.store.checkout(key: storeKey, channels: descriptor.geometry.channels)
        } catch {
            return .reject(Rejection(.channels, error.description))
        }
        guard payload.count == descriptor.byteCount else {
            return .reject(Rejection(.payloadSize, "payload has \(payload.count) bytes, header needs \(descriptor.byteCount)"))
        }
        let outDType = outputDType ?? descriptor.dtype
        let buffer = pool.buffer(count: descriptor.geometry.byteCount(outDType)!)
        let mode = state.mode
        let outcome: NormOutcome
        // Drift compares the batch with the running statistics it met, before its own update.
        let running = drift == nil ? nil : checkout.statistics
        do {
            outcome = try normalizer.normalize(
                payload, as: descriptor, into: buffer.buffer, outputDType: outDType,
                mode: mode, affine: state.affine, statistics: &checkout.statistics, measureBatch: drift != nil)
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
        let headerBytes = WireEncoder.outputHeader(
            header, outputDType: outDType, kind: normalizer.settings.kind.rawValue, mode: mode.rawValue, batches: outcome.batchesTracked)
        return .publish(topic: outputTopic.isEmpty ? key : outputTopic, header: headerBytes, payload: buffer)
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
