import NATS
import NormFormats

extension ClusterWorker {
    /// Whether partition `p`'s consumer is gone (an operator deleted it, or the input stream
    /// with it) and was made again, with the rest of what is missing. A pull to a deleted
    /// consumer gets no answer at all, so the partition would wait for ever without a word: this
    /// is asked when a pull lapses or ends with 409 "Consumer Deleted". The worker then lets the
    /// partition go (its pin was the old consumer's) and every key is read from the bucket again.
    func remadeConsumer(_ p: Int) -> Bool {
        guard connection.isConnected else { return false }  // the server is away: pulls lapse, then go again
        let name = settings.consumer(p)
        let info: JSONValue
        do {
            info = try jetStream.request("CONSUMER.INFO.\(settings.inputStream).\(name)", "")
        } catch {
            logger.debug("consumer not checked", metadata: ["consumer": "\(name)", "error": "\(error)"])
            return false
        }
        // 10014: no such consumer; 10059: no such stream.
        guard let error = info["error"], [10014, 10059].contains(error["err_code"]?.intValue ?? 0) else { return false }
        logger.warning(
            "a partition's consumer is gone: making what is missing again", metadata: ["consumer": "\(name)", "error": "\(error["description"]?.stringValue ?? "")"])
        do {
            processor.inputStream = try JetStreamTopology(settings: settings, jetStream: jetStream).ensure()
        } catch {
            logger.error("could not make the consumer again", metadata: ["consumer": "\(name)", "error": "\(error)"])
            return false
        }
        for partition in 0..<settings.partitions { processor.forget(partition: partition) }
        return true
    }
}
