import ZeroMQ

extension PipelineLoop {
    /// Sends one normalized batch. A full output blocks (in short timed waits, so shutdown and the
    /// watchdog still see the loop turn) or drops, as `when_full` says.
    func publish(topic: String, header: [UInt8], payload: ZMQBuffer, receivedAt: UInt64) {
        let frames: [ZMQMessage]
        do {
            frames = [try ZMQMessage(string: topic), try ZMQMessage(header), try ZMQMessage(sending: payload)]
        } catch {
            logger.error("cannot build output message: \(error)")
            counters.dropped("error")
            return
        }
        let blocking = blocksWhenFull
        while true {
            pipeline.lastTurn.store(MonotonicClock.nanoseconds(), ordering: .relaxed)
            do {
                if try output.send(multipart: frames, dontWait: !blocking) {
                    let latency = Double(MonotonicClock.nanoseconds() - receivedAt) / 1e6
                    counters.published(bytes: payload.count + header.count + topic.utf8.count, latencyMs: latency)
                    return
                }
            } catch {
                logger.error("send failed: \(error)")
                counters.dropped("error")
                return
            }
            if !blocking {
                counters.dropped("when_full")
                return
            }
            if pipeline.isStopping && pipeline.deadlinePassed {
                counters.dropped("shutdown")
                return
            }
        }
    }
}
