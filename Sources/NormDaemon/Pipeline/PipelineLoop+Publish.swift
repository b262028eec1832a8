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
}

/// One staged output's share of the counters: its bytes and when its batch arrived.
struct StagedSend {
    let bytes: Int
    let receivedAt: UInt64
}
