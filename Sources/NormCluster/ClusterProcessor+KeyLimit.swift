import NATS
import NormFormats

extension ClusterProcessor {
    enum Admission: Equatable {
        case admitted
        /// The bucket is at `max_keys`: the batch is rejected and acknowledged.
        case refused
        /// Left unacknowledged: why (the partition is let go).
        case failed(String)
    }

    /// With `max_keys`, a key the bucket does not have gets its entry before its first batch is
    /// normalized, so a key the full bucket refuses has had nothing published. The server counts
    /// the keys of every instance, so the limit holds for the pipeline, not per instance.
    func admit(key: String, _ entry: inout KeyEntry) -> Admission {
        guard entry.revision == 0, settings.maxKeys > 0 else { return .admitted }
        do {
            entry.revision = try state.put(KeyState.bucketKey(key), entry.state.encoded, ifRevision: 0)
            keys[key] = entry
            return .admitted
        } catch {
            if error.isStreamFull { return .refused }
            keys[key] = nil
            if error.isWrongRevision {
                counters.conflicts.add(1, ordering: .relaxed)
                logger.warning("state write refused: another instance owns the key now", metadata: ["key": "\(key)"])
                return .failed("the bucket refused a write: another instance owns the key")
            }
            logger.warning("state not written; the input will be redelivered", metadata: ["key": "\(key)", "error": "\(bucketProblem(error))"])
            return .failed("a key's state was not written")
        }
    }

    /// Dead-letters the key's input, marks it refused and counts it; returns why it is left
    /// unacknowledged when either could not be written (it comes back and is refused again).
    /// The mark tells a key let in later (or reset) which of its inputs were refused.
    func refuse(key: String, sequence: UInt64, message: NATSMessage, _ rejection: Rejection) -> String? {
        // The dead letter first: once marked, a redelivery is taken for one already refused.
        guard deadLetter(key: key, sequence: sequence, message: message, rejection) != .failed else { return "a dead letter was not published" }
        do {
            try markRefused(key, KeyState(statistics: nil, lastApplied: sequence, stream: inputStream).encoded)
        } catch {
            logger.warning("refusal not marked; the input will be redelivered", metadata: ["key": "\(key)", "error": "\(error)"])
            return "a refusal was not marked"
        }
        countRejected(key: key, message: message, rejection)
        return nil
    }

    private func markRefused(_ key: String, _ mark: [UInt8]) throws {
        do {
            try refusals.put(KeyState.bucketKey(key), mark)
        } catch {
            guard error.isNoResponders else { throw error }
            // Deleted under running instances: its marks are gone, but refusing goes on.
            _ = try jetStream.keyValue(settings.refusalBucket)
            try JetStreamTopology(settings: settings, jetStream: jetStream).limitRefusals()
            logger.warning("the refusal bucket was gone: made it again, empty", metadata: ["bucket": "\(settings.refusalBucket)"])
            try refusals.put(KeyState.bucketKey(key), mark)
        }
    }

    /// The last input of `key` refused at `max_keys` in this input stream, or 0. A key's inputs
    /// are refused in order until it is let in, so what it missed starts after that one.
    /// A refusal bucket deleted under running instances has no marks (the next refusal makes it again).
    func refusedThrough(_ key: String) throws -> UInt64 {
        let mark: KeyValueBucket.Entry?
        do {
            mark = try refusals.get(KeyState.bucketKey(key))
        } catch where error.isNoResponders {
            return 0
        }
        guard let mark, let refused = try? KeyState(decoding: mark.value), refused.stream == inputStream else { return 0 }
        return refused.lastApplied
    }
}
