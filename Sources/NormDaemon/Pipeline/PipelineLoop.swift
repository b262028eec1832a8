import Dispatch
import Foundation
import Locking
import Logging
import NormCluster
import NormCore
import NormFormats
import ZeroMQ

/// The thread-confined half of a pipeline: owns its sockets, receives and validates messages,
/// hands them to lanes, and sends what the lanes finished. Never shared across threads.
final class PipelineLoop {
    let pipeline: Pipeline
    let input: ZMQSocket
    /// The ZeroMQ output, or with `socket = "jetstream"` the JetStream sink.
    let output: ZMQSocket?
    let jetStreamOutput: JetStreamSink?
    let deadLetter: ZMQSocket?
    private(set) var decoder: WireDecoder
    /// The arrays each message's header bytes and shape are decoded into: a batch done inline
    /// has let go of them before the next message, which then reuses their storage.
    private var decodeBuffers = DecodeBuffers()
    private(set) var processor: BatchProcessor
    private(set) var lanes: [DispatchQueue]
    let completions: CompletionQueue
    private(set) var inFlightLimit: Int
    let rejectionLog: RateLimitedLog
    private(set) var inFlight = 0
    /// The messages each received message's frames go into, reused from one message to the next
    /// (a lane's payload is moved out of them first).
    private let received = [ZMQMessage(), ZMQMessage(), ZMQMessage()]
    /// Outputs wait here, three frames each (refilled for every batch; libzmq empties them sent),
    /// and leave together: once `stageLimit` are waiting and at the end of every loop turn. Sent
    /// one by one as they were made, each send found libzmq's I/O thread asleep and paid a
    /// wake-up on both threads; a burst pays one.
    let staged: [[ZMQMessage]] = (0..<PipelineLoop.stageLimit).map { _ in [ZMQMessage(), ZMQMessage(), ZMQMessage()] }
    /// The output header being made, reused from one message to the next (the header is then
    /// copied into its frame: one walk over the input header and no allocation, where counting
    /// it first to write it into the frame walked it twice).
    var outputHeaderBytes: [UInt8] = []
    /// What each staged output counts for when it is sent, in staging order.
    var stagedSends: [StagedSend] = []
    /// Measured (normd bench, release, 64 B, 128 in flight, interleaved pairs against 16): 64
    /// took 1.15× the batches/s (median of 14 pairs, 0.90–1.53), 32 was even (1.00, 0.94–1.08),
    /// and 128 and 256 were slower than 64 (0.70 and 0.81): a burst that long keeps the consumer
    /// waiting and the producer's window shut. At most 64 inline batches of ≤ 64 KiB wait here.
    static let stageLimit = 64
    /// A batch of at most this many payload bytes, arriving when nothing is in flight, is
    /// normalized on this thread instead of a lane. Measured (normd bench, release): at 64 B and
    /// 8 KiB inline takes 1.3× the batches/s of the lanes; once the loop stopped allocating per
    /// frame, 64 KiB inline took 1.13–1.18× (64 in flight, 2 interleaved pairs) and 1 MiB was
    /// even (0.98–1.00, 16 in flight), so the line sits at 64 KiB.
    static let inlineBytes = 65_536
    /// At most this many messages are taken from the input per loop turn.
    static let drainLimit = 256

    /// Held here, not read through the pipeline per message (that takes its lock): a retune keeps
    /// the counters and never changes the output.
    let counters: PipelineCounters
    let blocksWhenFull: Bool
    var logger: Logger { pipeline.logger }

    init(pipeline: Pipeline) throws {
        self.pipeline = pipeline
        let config = pipeline.configuration
        counters = pipeline.state.counters
        blocksWhenFull = config.output.whenFull == .block
        do {
            let factory = SocketFactory(context: pipeline.context, pipeline: config.name, authenticator: pipeline.authenticator)
            input = try factory.input(config.input)
            if config.output.socket == .jetstream {
                output = nil
                jetStreamOutput = try JetStreamSink(
                    urls: config.output.servers, stream: config.output.stream, prefix: config.output.subjectPrefix, name: config.name, logger: pipeline.logger)
            } else {
                output = try factory.output(config.output)
                jetStreamOutput = nil
            }
            deadLetter = try config.output.deadLetter.isEmpty ? nil : factory.deadLetter(config.output)
            ConnectCheck.warnUnresolved(config.input.connect, side: "input", logger: pipeline.logger)
            if output != nil { ConnectCheck.warnUnresolved(config.output.connect, side: "output", logger: pipeline.logger) }
        } catch let error as DaemonError {
            throw error
        } catch {
            throw DaemonError(.socket, "pipeline \(config.name): \(error)")
        }
        (decoder, processor, lanes, inFlightLimit) = Self.makeProcessing(config, state: pipeline.state, threads: pipeline.threads, logger: pipeline.logger)
        completions = CompletionQueue(wake: pipeline.wake)
        rejectionLog = RateLimitedLog(logger: pipeline.logger, perInterval: 10, intervalSeconds: 10)
    }

    /// What the norm settings decide: the wire checks, the batch work, the lanes.
    static func makeProcessing(
        _ config: PipelineConfiguration, state: PipelineState, threads: Int, logger: Logger
    )
        -> (WireDecoder, BatchProcessor, [DispatchQueue], Int)
    {
        let decoder = WireDecoder(
            maxMessageBytes: config.input.maxMessageBytes, channels: config.norm.channels,
            groups: config.norm.kind == .group ? config.norm.groups : nil)
        let processor = BatchProcessor(
            state: state, normalizer: Normalizer(settings: config.norm.settings, threads: threads),
            outputDType: config.output.dtype, outputTopic: config.output.topic, sharedStatistics: config.norm.stats == .shared,
            pool: ZMQBufferPool(limit: 8),
            inPlaceAllowed: !(config.input.bind + config.input.connect).contains { $0.hasPrefix("inproc://") }, drift: config.norm.driftSettings,
            driftLog: RateLimitedLog(logger: logger, perInterval: 10, intervalSeconds: 60))
        let laneCount = config.norm.stats == .shared ? 1 : max(1, threads)
        let lanes = (0..<laneCount).map { DispatchQueue(label: "normd.\(config.name).lane\($0)", qos: .userInitiated) }
        return (decoder, processor, lanes, max(4, 2 * laneCount))
    }

    /// A retune waits until nothing is in flight, then replaces what the norm settings decide.
    private func applyRetuneIfIdle() {
        guard inFlight == 0, let retune = pipeline.takeRetune() else { return }
        (decoder, processor, lanes, inFlightLimit) = Self.makeProcessing(
            retune.configuration, state: retune.state, threads: pipeline.threads, logger: pipeline.logger)
        logger.info("pipeline retuned", metadata: ["kind": "\(retune.configuration.norm.kind.rawValue)"])
        retune.applied.signal()
    }

    func run() {
        logger.info("pipeline running", metadata: ["kind": "\(pipeline.configuration.norm.kind.rawValue)"])
        while true {
            pipeline.lastTurn.store(MonotonicClock.nanoseconds(), ordering: .relaxed)
            let stopping = pipeline.isStopping
            if stopping && (inFlight == 0 || pipeline.deadlinePassed) { break }
            if pipeline.hasPendingRetune { applyRetuneIfIdle() }
            let reading = !stopping && !pipeline.hasPendingRetune && inFlight < inFlightLimit
            var items: [(ZMQPollTarget, ZMQPollEvents)] = [(.fileDescriptor(pipeline.wake.fd), .readable)]
            if reading { items.append((.socket(input), .readable)) }
            let ready: [ZMQPollEvents]
            do {
                ready = try zmqPoll(items, timeoutMilliseconds: 100)
            } catch {
                logger.error("poll failed: \(error)")
                break
            }
            if ready[0].contains(.readable) {
                pipeline.wake.drain()
                sendCompleted()
            }
            if reading && ready[1].contains(.readable) { receiveAvailable() }
            sendStaged()
        }
        sendCompleted()
        sendStaged()
        let abandoned = inFlight
        if abandoned > 0 { logger.warning("shutdown deadline passed with \(abandoned) batches in flight") }
    }

    /// Drains the input without blocking, up to the in-flight limit; at most `drainLimit`
    /// messages a turn, so batches done inline never keep the loop from its turn (stop, retune,
    /// the watchdog's stamp).
    private func receiveAvailable() {
        var taken = 0
        while inFlight < inFlightLimit && taken < Self.drainLimit {
            taken += 1
            let frameCount: Int?
            do {
                frameCount = try input.receiveMultipart(into: received, dontWait: true)
            } catch {
                logger.error("receive failed: \(error)")
                return
            }
            guard let frameCount else { return }
            handle(received.prefix(frameCount), frameCount: frameCount)
        }
    }

    /// `frames`: the first (at most three) frames of a message of `frameCount` frames.
    private func handle(_ frames: ArraySlice<ZMQMessage>, frameCount: Int) {
        counters.received(bytes: frames.reduce(0) { $0 + $1.count })
        let receivedAt = MonotonicClock.nanoseconds()
        let header: InboundHeader
        do throws(Rejection) {
            // At most three frames are kept, so after this check there are exactly three.
            try decoder.checkFrames(frameCount)
            header = try frames[0].withUnsafeBytes { key throws(Rejection) in
                try frames[1].withUnsafeBytes { header throws(Rejection) in
                    try decoder.decode(keyFrame: key, headerFrame: header, reusing: &decodeBuffers)
                }
            }
        } catch {
            counters.rejected(error.reason)
            let keyBytes = frames.first?.bytes ?? []
            let loggedKey = keyBytes.count <= WireDecoder.maxKeyBytes ? String(validating: keyBytes, as: UTF8.self) : nil
            reject(error, key: keyBytes, header: frames.count > 1 ? frames[1].bytes : [], streamKey: loggedKey, seq: nil)
            return
        }
        inFlight += 1
        let keyBytes = deadLetter == nil ? [] : frames[0].bytes
        let headerBytes = deadLetter == nil ? [] : frames[1].bytes
        let seq = header.seq
        let processor = processor
        if inFlight == 1 && header.descriptor.byteCount <= Self.inlineBytes {
            // Nothing else is in flight, so no lane holds an earlier batch of this key: done here,
            // the batch keeps its place and saves the hand-off to a lane and back.
            let result = processor.process(key: header.key, header: header, payload: frames[2])
            finish(.init(result: result, streamKey: header.key, seq: seq, key: keyBytes, header: headerBytes, receivedAt: receivedAt))
            return
        }
        // The payload moves to the lane in a message of its own; this loop keeps no reference to it.
        let payload = UncheckedTransfer(ZMQMessage(taking: frames[2]))
        let completions = completions
        let lane = lanes.count == 1 ? 0 : Int(Self.stableHash(header.key) % UInt64(lanes.count))
        lanes[lane].async {
            let result = processor.process(key: header.key, header: header, payload: payload.value)
            completions.push(.init(result: result, streamKey: header.key, seq: seq, key: keyBytes, header: headerBytes, receivedAt: receivedAt))
        }
    }

    /// Sends every finished batch, in the order the lanes finished them.
    private func sendCompleted() {
        for completion in completions.takeAll() { finish(completion) }
    }

    /// Publishes or rejects one finished batch; it is then no longer in flight.
    private func finish(_ completion: CompletionQueue.Completion) {
        inFlight -= 1
        switch completion.result {
        case .reject(let rejection):
            counters.rejected(rejection.reason)
            reject(rejection, key: completion.key, header: completion.header, streamKey: completion.streamKey, seq: completion.seq)
        case .publish(let topic, let header, let payload):
            publish(topic: topic, header: header, payload: payload, receivedAt: completion.receivedAt)
        }
    }

    private func reject(_ rejection: Rejection, key: [UInt8], header: [UInt8], streamKey: String?, seq: UInt64?) {
        rejectionLog.log(rejection, key: streamKey, seq: seq)
        guard let deadLetter else { return }
        do {
            let frames = [try ZMQMessage(key), try ZMQMessage(string: WireEncoder.deadLetterHeader(rejection)), try ZMQMessage(header)]
            counters.deadLetter(sent: try deadLetter.send(multipart: frames, dontWait: true))
        } catch {
            counters.deadLetter(sent: false)
        }
    }

    /// FNV-1a: the same key always picks the same lane, across runs too.
    static func stableHash(_ key: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in key.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return hash
    }

    func close() {
        input.close(lingerMilliseconds: 0)
        output?.close(lingerMilliseconds: max(0, pipeline.remainingMilliseconds))
        deadLetter?.close(lingerMilliseconds: 0)
    }
}
