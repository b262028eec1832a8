import NATS

extension ClusterProcessor {
    /// Writes `key`'s running statistics back to their seed (`init`, or torch's initial values)
    /// in the bucket, the state of record, keeping its last applied input: the next batch starts
    /// from them. A key this instance has loaded is written over its cached revision; another
    /// key is read from the bucket first, and the compare-and-set keeps a concurrent owner's
    /// write from being lost (the loser reads the key again).
    func reset(_ key: String) -> ClusterWorker.ResetOutcome {
        var cached = keys[key]
        if cached == nil {
            do {
                guard let stored = try state.get(KeyState.bucketKey(key)) else { return .absent }
                guard let decoded = try? KeyState(decoding: stored.value) else { return rewrite(key, revision: stored.revision) }
                cached = KeyEntry(partition: -1, state: decoded, revision: stored.revision)
            } catch {
                logger.warning("key state not read for a reset", metadata: ["key": "\(key)", "error": "\(error)"])
                return .failed("the state bucket \(settings.stateBucket) could not be read: \(error)")
            }
        }
        guard var entry = cached else { return .absent }
        guard let channels = entry.state.statistics?.mean.count else { return .written }  // nothing kept to reset
        let seeded = seed?(channels) ?? .initial(channels: channels)
        let next = KeyState(statistics: seeded, lastApplied: entry.state.lastApplied, stream: entry.state.stream ?? inputStream)
        do {
            entry.revision = try state.put(KeyState.bucketKey(key), next.encoded, ifRevision: entry.revision)
        } catch {
            keys[key] = nil
            logger.warning("reset not written; read the key again and retry", metadata: ["key": "\(key)", "error": "\(error)"])
            return .failed("the state bucket \(settings.stateBucket) did not take it: \(error)")
        }
        entry.state = next
        if keys[key] != nil { keys[key] = entry }
        observer?.applied(key: key, channels: channels, statistics: seeded)
        logger.notice("key reset in the bucket", metadata: ["key": "\(key)", "last_applied": "\(entry.state.lastApplied)"])
        return .written
    }

    /// Writes an unreadable key state anew: no statistics (the next batch starts from the seed),
    /// going on after the last input rejected `state` (its refusal mark). Without a mark, none of
    /// the key's inputs was rejected yet, and the stream's inputs of the key are applied again.
    private func rewrite(_ key: String, revision: UInt64) -> ClusterWorker.ResetOutcome {
        do {
            let next = KeyState(statistics: nil, lastApplied: try refusedThrough(key), stream: inputStream)
            _ = try state.put(KeyState.bucketKey(key), next.encoded, ifRevision: revision)
            logger.notice("unreadable key state written anew; the key's next batch starts from its seed", metadata: ["key": "\(key)", "last_applied": "\(next.lastApplied)"])
            return .written
        } catch {
            logger.warning("reset not written; read the key again and retry", metadata: ["key": "\(key)", "error": "\(error)"])
            return .failed("the state bucket \(settings.stateBucket) did not take it: \(error)")
        }
    }
}
