import Dispatch
import Logging
import NATS
import NormCore
import NormFormats

/// Processes one delivered message of an owned partition: normalize; publish the output with
/// its message id; write the key's state to the bucket with compare-and-set; acknowledge. A
/// redelivery the key's state has already applied is acknowledged and changes nothing: its
/// output was published before the state was written. Used from the worker's thread only.
final class ClusterProcessor: @unchecked Sendable {
    // @unchecked: `keys` is only touched from the worker's thread (`run`); the rest is immutable.
    let settings: ClusterSettings
    let normalizer: Normalizer
    let mode: @Sendable () -> NormMode
    let affine: Affine?
    let outputDType: DType?
    /// The statistics a key the bucket does not have starts from (`init`); nil: torch's initial.
    let seed: (@Sendable (Int) -> RunningStatistics)?
    let observer: (any ClusterObserver)?
    let state: KeyValueBucket
    /// Per key the state bucket refused at `max_keys`, the last input refused (`KeyState` with
    /// no statistics), so the refused inputs are not taken for missed ones once the key is let in.
    let refusals: KeyValueBucket
    let jetStream: JetStream
    let output: ClusterOutput
    let counters: ClusterCounters
    let logger: Logger
    let decoder: WireDecoder
    /// Publishes on the output stream (`output` `.jetStream`).
    let outputSink: JetStreamSink

    /// The keys of owned partitions as the bucket had them, with the revision to write over.
    var keys: [String: KeyEntry] = [:]
    /// Uptime nanoseconds since which the output stream has refused publishes at its limit, or
    /// nil (`ClusterProcessor+OutputFull.swift`).
    var outputFullSince: UInt64?
    /// The input stream's name and creation time, written into every key's state. The worker
    /// sets it again (and forgets every key) when it had to make the stream or a consumer anew.
    var inputStream: String

    struct KeyEntry {
        let partition: Int
        var state: KeyState
        var revision: UInt64
        /// Loaded from the bucket and not yet checked against the stream for skipped messages.
        var unverified = true
        /// Its state was of an input stream since made anew (its last applied was reset).
        var fromEarlierStream = false
    }

    init(settings: ClusterSettings, inputStream: String, normalizer: Normalizer, mode: @escaping @Sendable () -> NormMode, affine: Affine?, channels: Int,
         outputDType: DType?, seed: (@Sendable (Int) -> RunningStatistics)?, state: KeyValueBucket, refusals: KeyValueBucket, jetStream: JetStream, output: ClusterOutput, counters: ClusterCounters,
         observer: (any ClusterObserver)?, logger: Logger) {
        self.settings = settings
        self.inputStream = inputStream
        self.normalizer = normalizer
        self.mode = mode
        self.affine = affine
        self.outputDType = outputDType
        self.seed = seed
        self.observer = observer
        self.state = state
        self.refusals = refusals
        self.jetStream = jetStream
        self.output = output
        self.counters = counters
        self.logger = logger
        outputSink = JetStreamSink(jetStream: jetStream, settings: settings, logger: logger)
        let norm = normalizer.settings
        decoder = WireDecoder(maxMessageBytes: jetStream.connection.maxPayload, channels: channels,
                              groups: norm.kind == .group ? norm.groups : nil)
    }

    /// Drops what is cached of a partition's keys: they are read from the bucket again.
    func forget(partition: Int) {
        let leaving = keys.filter { $0.value.partition == partition }.map(\.key)
        guard !leaving.isEmpty else { return }
        for key in leaving { keys[key] = nil }
        observer?.released(keys: leaving)
    }

    /// Returns why the message was left unacknowledged — the bucket refused the key's write
    /// (another instance owns it now), or the server could not be reached — or nil when it was
    /// processed. The partition must then be let go, so its messages come back in order.
    func process(_ message: NATSMessage, partition: Int) -> String? {
        guard let reply = message.reply, let ack = AckSubject(reply) else { return nil }
        let key = String(message.subject.split(separator: ".").last ?? "")
        if ack.delivered > 1 { counters.redeliveries.add(1, ordering: .relaxed) }
        if let rejection = Self.keyRejection(key, isUTF8: message.subjectIsUTF8) {
            // Rejected before its key reaches the server in a subject: a key too long for the
            // server's control line would have it close the connection.
            guard reject(key: key, sequence: ack.streamSequence, message: message, rejection) else { return "a dead letter was not published" }
            acknowledge(reply, key: key)
            return nil
        }
        var entry: KeyEntry
        switch load(key, partition: partition) {
        case .loaded(let loaded): entry = loaded
        case .failed: return "the key's state could not be read"
        case .unreadable(let problem):
            // The key's state of record is damaged: its inputs are dead-lettered (and marked, so
            // a reset goes on after them) rather than stalling the partition's other keys.
            if ack.delivered > 1, let refused = try? refusedThrough(key), ack.streamSequence <= refused {
                // Rejected and marked before; its acknowledgement was lost.
                counters.duplicatesSkipped.add(1, ordering: .relaxed)
                acknowledge(reply, key: key)
                return nil
            }
            let rejection = Rejection(
                .state, "the key's state in the bucket \(settings.stateBucket) cannot be read (\(problem)); `normd ctl reset` writes it anew")
            if let failure = refuse(key: key, sequence: ack.streamSequence, message: message, rejection) { return failure }
            acknowledge(reply, key: key)
            return nil
        }
        logger.trace(
            "delivery",
            metadata: ["key": "\(key)", "sequence": "\(ack.streamSequence)", "delivered": "\(ack.delivered)", "applied": "\(entry.state.lastApplied)"])
        if ack.streamSequence <= entry.state.lastApplied {
            // Applied already, so its output was published and acknowledged before the state was
            // written: nothing to do. (Publishing it again made a second output on a ZeroMQ
            // output, and on JetStream past the two-minute duplicate window, with the key's
            // later batch count in its header.)
            counters.duplicatesSkipped.add(1, ordering: .relaxed)
        } else {
            switch admit(key: key, &entry) {
            case .failed(let why): return why
            case .refused:
                let rejection = Rejection(.maxKeys, "new key beyond max_keys \(settings.maxKeys): the state bucket \(settings.stateBucket) holds that many keys")
                if let failure = refuse(key: key, sequence: ack.streamSequence, message: message, rejection) { return failure }
                entry.state.lastApplied = ack.streamSequence
                keys[key] = entry
            case .admitted:
                // The server redelivers a dead owner's messages in no particular order, so the
                // first delivery of a key under a new owner, and any redelivery, may have skipped
                // some: those are read from the stream and applied first, in order.
                if entry.unverified || ack.delivered > 1 {
                    if let failure = applyMissed(key: key, subject: message.subject, before: ack.streamSequence, &entry) { return failure }
                }
                if let failure = apply(key: key, sequence: ack.streamSequence, message: message, &entry) { return failure }
            }
        }
        acknowledge(reply, key: key)
        return nil
    }

    private func acknowledge(_ reply: String, key: String) {
        do {
            _ = try jetStream.connection.request(NATSMessage(subject: reply, body: Array("+ACK".utf8)), timeout: jetStream.timeout)
        } catch {
            logger.debug("acknowledgement lost; the input will be redelivered and skipped", metadata: ["key": "\(key)", "error": "\(error)"])
        }
    }

    /// Applies the key's messages the stream holds after its last applied one and before `sequence`.
    private func applyMissed(key: String, subject: String, before sequence: UInt64, _ entry: inout KeyEntry) -> String? {
        while true {
            let next: (sequence: UInt64, message: NATSMessage)?
            do {
                next = try storedInput(subject: subject, from: entry.state.lastApplied + 1)
            } catch {
                logger.warning("the stream could not be read; the input will be redelivered", metadata: ["key": "\(key)", "error": "\(error)"])
                return "the input stream could not be read"
            }
            guard let next, next.sequence < sequence else {
                entry.unverified = false
                keys[key] = entry
                return nil
            }
            counters.recovered.add(1, ordering: .relaxed)
            if let failure = apply(key: key, sequence: next.sequence, message: next.message, &entry) { return failure }
        }
    }

    /// Normalizes, publishes (or dead-letters) and records `message` as the key's last applied.
    private func apply(key: String, sequence: UInt64, message: NATSMessage, _ entry: inout KeyEntry) -> String? {
        let start = DispatchTime.now().uptimeNanoseconds
        var statistics = entry.state.statistics
        var result = normalize(key: key, message: message, statistics: &statistics)
        if case .success(let (header, payload)) = result {
            do {
                if try send(key: key, sequence: sequence, header: header, payload: payload) == .unverified, entry.fromEarlierStream {
                    // After an instance died between publishing and writing the state, a
                    // duplicate is the same output, stored once. But the key's state was of a
                    // stream since made anew, which numbers from 1 again: its ids are taken, and
                    // the output that took this one is gone from the stream, so not compared.
                    logger.warning(
                        "the output stream took a new output for a duplicate and did not store it: its message id was used within the duplicate window (was the input stream made anew?)",
                        metadata: ["key": "\(key)", "message_id": "\(key):\(sequence)"])
                }
            } catch let tooLarge as JetStreamSink.TooLarge {
                result = .failure(Rejection(.tooLarge, tooLarge.description))
                statistics = entry.state.statistics
            } catch {
                if outputFull(error) { return "the output stream is full" }
                logger.warning("output not published; the input will be redelivered", metadata: ["key": "\(key)", "error": "\(error)"])
                return "an output was not published"
            }
            outputHasRoom()
        }
        if case .failure(let rejection) = result, deadLetter(key: key, sequence: sequence, message: message, rejection) == .failed {
            return "a dead letter was not published"
        }
        let next = KeyState(statistics: statistics, lastApplied: sequence, stream: inputStream)
        do {
            entry.revision = try state.put(KeyState.bucketKey(key), next.encoded, ifRevision: entry.revision)
            entry.state = next
            keys[key] = entry
            // Counted once its outcome is the key's state of record: an attempt left for
            // redelivery (output or state not written) is counted when it is done, once, so the
            // books balance with nothing in flight at rest.
            counters.received.add(1, ordering: .relaxed)
            observer?.received(bytes: message.body.count)
            switch result {
            case .success(let (header, payload)):
                counters.published.add(1, ordering: .relaxed)
                observer?.published(bytes: header.count + payload.count, latencyMs: Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
            case .failure(let rejection):
                counters.rejected.add(1, ordering: .relaxed)
                observer?.rejected(rejection, key: key)
            }
            if let statistics { observer?.applied(key: key, channels: statistics.mean.count, statistics: statistics) }
            return nil
        } catch {
            keys[key] = nil
            if error.isWrongRevision {
                counters.conflicts.add(1, ordering: .relaxed)
                logger.warning("state write refused: another instance owns the key now", metadata: ["key": "\(key)", "sequence": "\(sequence)"])
                return "the bucket refused a write: another instance owns the key"
            }
            logger.warning("state not written; the input will be redelivered", metadata: ["key": "\(key)", "error": "\(bucketProblem(error))"])
            return "a key's state was not written"
        }
    }

    /// `error` from the state bucket, with what "no responders" means there: its stream is gone.
    /// normd does not make the state of record again under running keys by itself.
    func bucketProblem(_ error: any Error) -> String {
        guard let error = error as? NATSError, error.isNoResponders else { return "\(error)" }
        return "\(error) (the bucket \(settings.stateBucket) is gone: was it deleted? Restarting normd makes it again, empty, and its keys start from init)"
    }

    enum Loaded {
        case loaded(KeyEntry)
        /// The bucket could not be asked: the input is left for redelivery.
        case failed
        /// The bucket holds a value that is not a key state: why.
        case unreadable(String)
    }

    private func load(_ key: String, partition: Int) -> Loaded {
        if let cached = keys[key] { return .loaded(cached) }
        do {
            guard let entry = try state.get(KeyState.bucketKey(key)) else {
                // A key refused before (max_keys, or its state unreadable): its refused inputs
                // are not missed ones.
                let refused = try refusedThrough(key)
                let fresh = KeyEntry(partition: partition, state: KeyState(statistics: nil, lastApplied: refused, stream: inputStream), revision: 0)
                keys[key] = fresh
                return .loaded(fresh)
            }
            var state: KeyState
            do {
                state = try KeyState(decoding: entry.value)
            } catch {
                return .unreadable(error.message)
            }
            let fromEarlierStream = state.stream.map { $0 != inputStream } ?? false
            if fromEarlierStream, let stream = state.stream {
                // Its sequence numbers a message of a stream since deleted: this stream's messages
                // are all new to it. The statistics go on.
                logger.notice(
                    "key state from an earlier input stream: its statistics go on from this stream's first message",
                    metadata: ["key": "\(key)", "earlier": "\(stream)", "now": "\(inputStream)", "last_applied": "\(state.lastApplied)"])
                state.lastApplied = 0
            }
            var loaded = KeyEntry(partition: partition, state: state, revision: entry.revision)
            loaded.fromEarlierStream = fromEarlierStream
            keys[key] = loaded
            return .loaded(loaded)
        } catch {
            logger.warning("key state not read", metadata: ["key": "\(key)", "error": "\(bucketProblem(error))"])
            return .failed
        }
    }
}
