import NATS

extension ClusterWorker {
    /// The member bucket's key holding the settings the last instance started with.
    static let agreementKey = "settings"

    /// Compares this instance's `ClusterSettings.agreement` with what the last instance of the
    /// pipeline started with, warns when they differ (during a rolling change that is expected:
    /// until every instance holds the new settings, a key's numbers depend on which instance owns
    /// it), and writes this instance's. Pinning and the state still work either way.
    func compareAgreement() {
        guard !settings.agreement.isEmpty else { return }
        let ours = Array(settings.agreement.utf8)
        do {
            if let theirs = try members.get(Self.agreementKey)?.value, theirs != ours {
                let (mine, other) = (settings.agreement.split(separator: "\n"), String(decoding: theirs, as: UTF8.self).split(separator: "\n"))
                logger.warning(
                    "instances of this pipeline disagree on settings that decide its numbers: until all hold the same, a key's outputs depend on which instance owns it",
                    metadata: [
                        "here": "\(mine.filter { !other.contains($0) }.joined(separator: "; "))",
                        "last_instance": "\(other.filter { !mine.contains($0) }.joined(separator: "; "))",
                    ])
            }
            try members.put(Self.agreementKey, ours)
        } catch {
            logger.debug("settings not compared with other instances", metadata: ["error": "\(error)"])
        }
    }
}
