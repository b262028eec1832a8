import Foundation
import NormCluster
import NormFormats
import ZeroMQ

extension PipelineLoop {
    /// Stages one normalized batch for the output (JetStream publishes at once); a full stage is
    /// sent at once.
    func publish(topic: String, header: OutputHeader, payload: BatchProcessor.Payload, receivedAt: UInt64) {
        guard output != nil else {
            publishToJetStream(key: topic, header: header, payload: payload, receivedAt: receivedAt)
            return
        }
        let frames = staged[stagedSends.count]
        let payloadBytes = payload.count
        outputHeaderBytes.removeAll(keepingCapacity: true)
        header.append(to: &outputHeaderBytes)
        do {
            try frames[0].refill(copying: topic)
            try frames[1].refill(copying: outputHeaderBytes)
            switch payload {
            case .buffer(let buffer): try frames[2].refill(sending: buffer)
            case .inPlace(let message): frames[2].refill(taking: message.value)
            }
        } catch {
            logger.error("cannot build output message: \(error)")
            counters.dropped("error")
            return
        }
        stagedSends.append(StagedSend(bytes: payloadBytes + outputHeaderBytes.count + topic.utf8.count, receivedAt: receivedAt))
        if stagedSends.count == Self.stageLimit { sendStaged() }
    }

    /// Sends every staged output in the order staged. A full output blocks (in short timed
    /// waits, so shutdown and the watchdog still see the loop turn) or drops, as `when_full` says.
    func sendStaged() {
        guard let output, !stagedSends.isEmpty else { return }
        defer { stagedSends.removeAll(keepingCapacity: true) }
        let blocking = blocksWhenFull
        // One clock read per send: it times the batch, stamps its second and the loop's turn.
        var now = MonotonicClock.nanoseconds()
        for (index, send) in stagedSends.enumerated() {
            let frames = staged[index]
            sending: while true {
                pipeline.lastTurn.store(now, ordering: .relaxed)
                do {
                    let sent = try output.send(multipart: frames, dontWait: !blocking)
                    now = MonotonicClock.nanoseconds()
                    if sent {
                        counters.published(bytes: send.bytes, latencyMs: Double(now - send.receivedAt) / 1e6, now: now)
                        break sending
                    }
                } catch {
                    logger.error("send failed: \(error)")
                    counters.dropped("error")
                    break sending
                }
                if !blocking {
                    counters.dropped("when_full")
                    break sending
                }
                if pipeline.isStopping && pipeline.deadlinePassed {
                    counters.dropped("shutdown")
                    break sending
                }
            }
        }
    }

    /// A ZeroMQ-fed pipeline's output on JetStream: on "<subject_prefix>.<key>", acknowledged by
    /// the stream, with no message id (its input has no stream sequence to name it by).
    private func publishToJetStream(key: String, header outputHeader: OutputHeader, payload: BatchProcessor.Payload, receivedAt: UInt64) {
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
        guard awaitJetStream(sink) else { return }
        do {
            try sink.publish(key: key, header: header, payload: bytes)
            let latency = Double(MonotonicClock.nanoseconds() - receivedAt) / 1e6
            counters.published(bytes: bytes.count + header.count, latencyMs: latency)
        } catch let tooLarge as JetStreamSink.TooLarge {
            counters.rejected(.tooLarge)
            rejectionLog.warning("rejected", metadata: ["key": "\(key)", "reason": "too_large", "detail": "\(tooLarge)"], what: "rejections")
        } catch {
            rejectionLog.warning("JetStream publish failed: batch dropped", metadata: ["key": "\(key)", "error": "\(error)"], what: "publish failures")
            counters.dropped("error")
        }
    }
}

extension PipelineLoop {
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
            let now = MonotonicClock.nanoseconds()
            pipeline.lastTurn.store(now, ordering: .relaxed)
            if pipeline.isStopping && pipeline.deadlinePassed {
                counters.dropped("shutdown")
                return false
            }
            if waitingSince == nil {
                waitingSince = now
                logger.warning("JetStream output disconnected: waiting for the server (when_full = \"block\")")
            }
            usleep(Self.disconnectedPoll)
        }
        if let waitingSince {
            let waited = Double(MonotonicClock.nanoseconds() - waitingSince) / 1e9
            logger.notice("JetStream output connected again: publishing", metadata: ["waited_s": "\(String(format: "%.1f", waited))"])
        }
        return true
    }

    /// Microseconds between looks at a disconnected JetStream output.
    static let disconnectedPoll: UInt32 = 20_000
}

/// One staged output's share of the counters: its bytes and when its batch arrived.
struct StagedSend {
    let bytes: Int
    let receivedAt: UInt64
}
