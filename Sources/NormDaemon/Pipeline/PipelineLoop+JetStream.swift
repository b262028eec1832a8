import Foundation
import NATS
import NormCluster
import NormFormats

extension PipelineLoop {
    /// A ZeroMQ-fed pipeline's output on JetStream: on "<subject_prefix>.<key>", acknowledged by
    /// the stream, with no message id (its input has no stream sequence to name it by). An
    /// output stream at one of its limits (messages, bytes, storage) that discards new messages
    /// refuses the publish: that is a full output, which `when_full` decides, as for PUSH.
    func publishToJetStream(key: String, header outputHeader: OutputHeader, payload: BatchProcessor.Payload, receivedAt: UInt64) {
        guard let sink = jetStreamOutput else { return }
        guard ClusterSettings.isToken(key) else {
            counters.rejected(.key)
            rejectionLog.warning("rejected", metadata: ["key": "\(key)", "reason": "key", "detail": "not a subject token"], what: "rejections")
            return
        }
        let header = outputHeader.bytes
        let bytes: [UInt8]
        switch payload {
        case .buffer(let buffer): bytes = Array(UnsafeRawBufferPointer(buffer.buffer))
        case .inPlace(let message): bytes = message.value.bytes
        }
        var fullSince: UInt64?
        while awaitJetStream(sink) {
            do {
                try sink.publish(key: key, header: header, payload: bytes)
                let now = MonotonicClock.nanoseconds()
                counters.published(bytes: bytes.count + header.count, latencyMs: Double(now - receivedAt) / 1e6)
                if let fullSince {
                    logger.notice(
                        "JetStream output stream has room again: publishing", metadata: ["waited_s": "\(String(format: "%.1f", Double(now - fullSince) / 1e9))"]
                    )
                }
                return
            } catch let tooLarge as JetStreamSink.TooLarge {
                counters.rejected(.tooLarge)
                rejectionLog.warning("rejected", metadata: ["key": "\(key)", "reason": "too_large", "detail": "\(tooLarge)"], what: "rejections")
                return
            } catch let error as NATSError where error.isStreamFull {
                guard blocksWhenFull else {
                    counters.dropped("when_full")
                    rejectionLog.warning(
                        "JetStream output stream full: batch dropped (when_full = \"drop\")", metadata: ["key": "\(key)", "error": "\(error)"], what: "drops")
                    return
                }
                if fullSince == nil {
                    fullSince = MonotonicClock.nanoseconds()
                    logger.warning("JetStream output stream full: waiting for room (when_full = \"block\")", metadata: ["error": "\(error)"])
                }
                guard waitTurning(polls: Self.fullStreamPolls) else { return }
            } catch {
                rejectionLog.warning("JetStream publish failed: batch dropped", metadata: ["key": "\(key)", "error": "\(error)"], what: "publish failures")
                counters.dropped("error")
                return
            }
        }
    }

    /// Whether to publish now. While the connection is down a publish would wait out its
    /// acknowledgement timeout (5 s) and leave the message in libnats's reconnect buffer, to be
    /// stored after all, yet counted as dropped; past the buffer's 64 MiB it would be lost. Like a
    /// full PUSH output, a disconnected one blocks (in short waits, so shutdown and the watchdog
    /// see the loop turn; producers feel it once the input's HWM fills) or drops, as `when_full`
    /// says.
    func awaitJetStream(_ sink: JetStreamSink) -> Bool {
        guard !sink.isConnected else { return true }
        guard blocksWhenFull else {
            counters.dropped("disconnected")
            return false
        }
        var waitingSince: UInt64?
        while !sink.isConnected {
            if waitingSince == nil {
                waitingSince = MonotonicClock.nanoseconds()
                logger.warning("JetStream output disconnected: waiting for the server (when_full = \"block\")")
            }
            guard waitTurning(polls: 1) else { return false }
        }
        if let waitingSince {
            let waited = Double(MonotonicClock.nanoseconds() - waitingSince) / 1e9
            logger.notice("JetStream output connected again: publishing", metadata: ["waited_s": "\(String(format: "%.1f", waited))"])
        }
        return true
    }

    /// Waits `polls` × `disconnectedPoll`, the loop counted as turning; false (the batch counted
    /// as dropped at shutdown) once the pipeline stops and its deadline has passed.
    private func waitTurning(polls: Int) -> Bool {
        for _ in 0..<polls {
            pipeline.lastTurn.store(MonotonicClock.nanoseconds(), ordering: .relaxed)
            if pipeline.isStopping && pipeline.deadlinePassed {
                counters.dropped("shutdown")
                return false
            }
            usleep(Self.disconnectedPoll)
        }
        return true
    }

    /// Microseconds between looks at a disconnected JetStream output.
    static let disconnectedPoll: UInt32 = 20_000
    /// Polls between publishes to a full output stream (a publish is a round trip to the server).
    static let fullStreamPolls = 5
}
