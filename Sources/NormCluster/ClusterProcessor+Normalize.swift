import NATS
import NormCore
import NormFormats

extension ClusterProcessor {
    /// The output header and payload of `message`, or why it is rejected; `statistics` is
    /// advanced as the batch's mode says.
    func normalize(key: String, message: NATSMessage, statistics: inout RunningStatistics?) -> Result<([UInt8], [UInt8]), Rejection> {
        guard let headerText = message.headers["Normd-Header"] else {
            return .failure(Rejection(.header, "no Normd-Header among the message's NATS headers, or headers libnats cannot read"))
        }
        let headerBytes = Array(headerText.utf8)
        let decoded: Result<InboundHeader, Rejection> = Array(key.utf8).withUnsafeBytes { keyFrame in
            headerBytes.withUnsafeBytes { headerFrame in Result { () throws(Rejection) in try decoder.decode(keyFrame: keyFrame, headerFrame: headerFrame) } }
        }
        let header: InboundHeader
        switch decoded {
        case .success(let value): header = value
        case .failure(let rejection): return .failure(rejection)
        }
        let descriptor = header.descriptor
        guard message.body.count == descriptor.byteCount else {
            return .failure(Rejection(.payloadSize, "payload has \(message.body.count) bytes, header needs \(descriptor.byteCount)"))
        }
        if normalizer.settings.hasRunningStatistics, statistics == nil {
            let channels = descriptor.geometry.channels
            statistics = seed?(channels) ?? .initial(channels: channels)
        }
        if let statistics, statistics.mean.count != descriptor.geometry.channels {
            return .failure(Rejection(.channels, "batch has \(descriptor.geometry.channels) channels, the key's statistics \(statistics.mean.count)"))
        }
        let outDType = outputDType ?? descriptor.dtype
        var output = [UInt8](repeating: 0, count: descriptor.geometry.byteCount(outDType) ?? 0)
        let batchMode = mode()
        var updated = statistics
        let normalized: Result<NormOutcome, NormError> = message.body.withUnsafeBytes { input in
            output.withUnsafeMutableBytes { out in
                Result { () throws(NormError) in
                    try normalizer.normalize(input, as: descriptor, into: out, outputDType: outDType, mode: batchMode, affine: affine, statistics: &updated)
                }
            }
        }
        let outcome: NormOutcome
        switch normalized {
        case .success(let value): outcome = value
        case .failure(let error): return .failure(Rejection(RejectReason(error.code), error.message))
        }
        statistics = updated
        let out = WireEncoder.outputHeader(header, outputDType: outDType, kind: normalizer.settings.kind.rawValue, mode: batchMode.rawValue, batches: outcome.batchesTracked)
        return .success((out, output))
    }

    /// Publishes an output: on JetStream once, with "<key>:<input sequence>" as its message id.
    func send(key: String, sequence: UInt64, header: [UInt8], payload: [UInt8]) throws -> JetStreamSink.Stored {
        switch output {
        case .jetStream:
            return try outputSink.publishOnce(key: key, header: header, payload: payload, messageID: "\(key):\(sequence)")
        case .sink(let sink):
            try sink(key, header, payload)
            return .stored
        }
    }

    /// Why `key` is rejected before anything is done with it (contract sections 1 and 8): not
    /// UTF-8, over 255 bytes, or not a subject token.
    static func keyRejection(_ key: String, isUTF8: Bool) -> Rejection? {
        guard isUTF8 else { return Rejection(.key, "key is not UTF-8") }
        guard key.utf8.count <= WireDecoder.maxKeyBytes else { return Rejection(.key, "key is \(key.utf8.count) bytes, at most \(WireDecoder.maxKeyBytes)") }
        guard ClusterSettings.isToken(key) else { return Rejection(.key, "key \"\(key)\" is not a subject token") }
        return nil
    }

    /// Dead-letters a rejected input that was not normalized, then counts it (or, when the output
    /// stream holds its dead letter already, counts it a duplicate); false when the dead letter
    /// could not be published (the input is left for redelivery).
    func reject(key: String, sequence: UInt64, message: NATSMessage, _ rejection: Rejection) -> Bool {
        switch deadLetter(key: key, sequence: sequence, message: message, rejection) {
        case .failed: return false
        case .alreadySent:
            // Counted when it was sent (right after): a redelivery whose acknowledgement was lost.
            counters.duplicatesSkipped.add(1, ordering: .relaxed)
        case .sent: countRejected(key: key, message: message, rejection)
        }
        return true
    }

    func countRejected(key: String, message: NATSMessage, _ rejection: Rejection) {
        counters.received.add(1, ordering: .relaxed)
        observer?.received(bytes: message.body.count)
        counters.rejected.add(1, ordering: .relaxed)
        observer?.rejected(rejection, key: key)
    }

    /// What became of a dead letter.
    enum DeadLetter {
        /// Published, or dropped as one that can never be (counted as dropped).
        case sent
        /// The output stream holds this very dead letter already (under its message id).
        case alreadySent
        /// Not published: the input is left for redelivery.
        case failed
    }

    /// A rejected input goes to "<output prefix>.rejected.<key>" with the reason in
    /// `Normd-Reject` and the input's own header and payload, once (its message id). When it was
    /// not published, the input is left for redelivery, as an output that was not published is
    /// (the output stream full or away): a dead letter is an output too. One that can never be
    /// published — over the server's max_payload with its reason added — is counted as dropped
    /// and said in the log.
    func deadLetter(key: String, sequence: UInt64, message: NATSMessage, _ rejection: Rejection) -> DeadLetter {
        let token = Self.keyRejection(key, isUTF8: message.subjectIsUTF8) == nil ? key : "_"
        var headers = message.headers.filter { !$0.key.hasPrefix("Nats-") }
        headers["Normd-Reject"] = WireEncoder.deadLetterHeader(rejection)
        let letter = NATSMessage(subject: "\(settings.outputPrefix).rejected.\(token)", headers: headers, body: message.body)
        let id = "rejected:\(key):\(sequence)"
        let size = message.body.count + headers.reduce(64 + id.utf8.count) { $0 + $1.key.utf8.count + $1.value.utf8.count + 4 }
        guard size <= jetStream.connection.maxPayload else {
            observer?.deadLettered(sent: false)
            logger.warning(
                "dead letter dropped: over the server's max_payload with its reason",
                metadata: ["key": "\(key)", "bytes": "\(size)", "max_payload": "\(jetStream.connection.maxPayload)"])
            return .sent
        }
        do {
            if settings.outputStream != nil {
                if try outputSink.publishOnce(letter, messageID: id) == .duplicate { return .alreadySent }
            } else {
                try jetStream.connection.publish(letter)
            }
            observer?.deadLettered(sent: true)
            outputHasRoom()
            return .sent
        } catch {
            if outputFull(error) { return .failed }
            logger.warning("dead letter not published; the input will be redelivered", metadata: ["key": "\(key)", "error": "\(error)"])
            return .failed
        }
    }
}
