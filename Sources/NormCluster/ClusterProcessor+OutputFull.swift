import Dispatch
import NATS

extension ClusterProcessor {
    /// Whether `error` is the output stream refusing a publish at its limit (JetStream 10077,
    /// `max_msgs` or `max_bytes` with discard new). The first of a spell is warned; the inputs
    /// then wait unacknowledged and come back until there is room, and a stream full for hours
    /// does not write a warning at every try.
    func outputFull(_ error: any Error) -> Bool {
        guard let error = error as? NATSError, error.isStreamFull else { return false }
        if outputFullSince == nil {
            outputFullSince = DispatchTime.now().uptimeNanoseconds
            logger.warning(
                "the output stream is full: inputs wait unacknowledged and are tried again until it has room",
                metadata: ["stream": "\(settings.outputStream ?? "")", "error": "\(error)"])
        } else {
            logger.debug("the output stream is still full", metadata: ["error": "\(error)"])
        }
        return true
    }

    /// A publish went through: a spell of a full output stream is over.
    func outputHasRoom() {
        guard let since = outputFullSince else { return }
        outputFullSince = nil
        let waited = Double(DispatchTime.now().uptimeNanoseconds - since) / 1e9
        logger.notice("the output stream has room again: publishing", metadata: ["waited_s": "\((waited * 10).rounded() / 10)"])
    }
}
