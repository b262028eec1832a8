import NATS
import NormFormats

extension ClusterProcessor {
    /// The first input the stream holds on `subject` at or after `sequence`, with its stream
    /// sequence, or nil when there is none.
    ///
    /// A direct get reads it in one request. libnats cannot make that request for a subject JSON
    /// would escape (a key with `"` or `\`), nor read its reply when a producer's headers do not
    /// parse (an empty value, a line without a colon); both come back `isUnreadable`. Then the
    /// JetStream API's message get finds the sequence (the subject escaped here) and the message
    /// is read by that sequence with its stored headers, read as a delivery's are. So such a
    /// message is processed or rejected as its delivery would have been, and never holds up the
    /// partition's other keys.
    func storedInput(subject: String, from sequence: UInt64) throws(ClusterError) -> (sequence: UInt64, message: NATSMessage)? {
        let stream = settings.inputStream
        do {
            return try jetStream.next(in: stream, subject: subject, from: sequence)
        } catch where error.isUnreadable {
            logger.debug("direct get unusable; reading by sequence", metadata: ["subject": "\(subject)", "error": "\(error)"])
        } catch {
            throw ClusterError(.server, error.description, context: "reading \(stream) on \(subject)")
        }
        var from = sequence
        while true {
            let context = "reading \(stream) on \(subject) from \(from)"
            var request = #"{"seq":\#(from),"next_by_subj":"#
            JSONValue.writeString(subject, to: &request)
            request += "}"
            let reply = try jetStream.request("STREAM.MSG.GET.\(stream)", request)
            if let failure = reply["error"] {
                // JetStream's "no message found" (10037): nothing at or after `from`.
                if failure["err_code"]?.intValue == 10037 { return nil }
                throw ClusterError(.server, failure["description"]?.stringValue ?? reply.serialized, context: context)
            }
            guard let found = reply["message"]?["seq"]?.uint64Value, found >= from else {
                throw ClusterError(.server, "no message sequence at or after \(from) in \(reply.serialized.prefix(200))", context: context)
            }
            do {
                if let message = try jetStream.message(in: stream, sequence: found) { return (found, message) }
            } catch {
                throw ClusterError(.server, error.description, context: context)
            }
            // Removed between the two requests (the stream's limits): look past it.
            from = found + 1
        }
    }
}
