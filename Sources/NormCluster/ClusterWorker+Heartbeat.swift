import Foundation
import NATS

extension ClusterWorker {
    /// Says this instance is alive and returns its fair share: ⌈partitions ÷ live instances⌉.
    /// An instance is live when its stamp (wall-clock milliseconds) is within owner_timeout of
    /// this machine's clock: machines are expected to keep time (NTP); a skewed clock only
    /// unbalances the shares, never the statistics.
    ///
    /// While heartbeats fail, this instance reckons its share as if it were alone (pinning still
    /// keeps each partition with one owner): the log says so once, and once more when they work
    /// again. A member bucket deleted under running instances is made again (it holds no state).
    func heartbeat(failing: inout Bool) -> Int {
        let stamp = Array(String(Int64(Date.timeIntervalSinceReferenceDate * 1000)).utf8)
        var live = 1
        do {
            let key = "m." + id
            let revision = try members.get(key)?.revision ?? 0
            _ = try members.put(key, stamp, ifRevision: revision)
            let horizon = Int64((Date.timeIntervalSinceReferenceDate - settings.ownerTimeout) * 1000)
            live = 0
            for member in try members.keys() where member.hasPrefix("m.") {
                guard let entry = try members.get(member), let seen = Int64(String(decoding: entry.value, as: UTF8.self)), seen >= horizon else { continue }
                live += 1
            }
            if failing {
                failing = false
                logger.notice("heartbeats work again", metadata: ["live": "\(live)"])
            }
        } catch {
            logger.debug("heartbeat failed", metadata: ["error": "\(error)"])
            if !failing {
                failing = true
                logger.warning("heartbeats fail: this instance takes partitions as if it were alone", metadata: ["error": "\(error)"])
            }
            // No responders for the bucket's requests while connected: its stream is gone.
            if error.isNoResponders, (try? jetStream.keyValue(settings.memberBucket)) != nil {
                logger.notice("the member bucket was gone: made it again", metadata: ["bucket": "\(settings.memberBucket)"])
            }
        }
        logger.trace("heartbeat", metadata: ["live": "\(live)"])
        return (settings.partitions + max(1, live) - 1) / max(1, live)
    }
}
