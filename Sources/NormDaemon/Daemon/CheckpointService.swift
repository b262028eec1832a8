import Foundation
import ServiceLifecycle

/// Writes the state every `checkpoint_interval_s` (failures logged, not fatal) and once more at
/// shutdown, after the pipelines have stopped and published what they held. A periodic checkpoint
/// skips a pipeline whose state has not changed since its file was written.
struct CheckpointService: Service {
    let daemon: Daemon

    func run() async {
        var last = ContinuousClock.now
        while true {
            // Read each time round: a reload may change the interval.
            let next = last + .seconds(daemon.configuration.daemon.checkpointIntervalS)
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(until: next, clock: .continuous) }
            } catch {
                break  // shutting down
            }
            last = ContinuousClock.now
            await Blocking.run { [daemon] in
                do { _ = try daemon.checkpoint(onlyChanged: true) } catch { daemon.logger.error("checkpoint failed: \(error)") }
            }
        }
        await Blocking.run { [daemon] in Self.finalCheckpoint(daemon) }
    }

    /// The checkpoint at shutdown. Every descriptor may be taken then (idle peers on a bound
    /// endpoint): the pipelines have closed their sockets, and libzmq frees those connections'
    /// descriptors as it tears them down, so a write that finds none tries again as they come
    /// free, within the shutdown timeout, rather than losing the statistics since the last one.
    static func finalCheckpoint(_ daemon: Daemon) {
        let deadline = MonotonicClock.nanoseconds() + UInt64(daemon.configuration.daemon.shutdownTimeoutS * 1e9)
        var waited = false
        while true {
            do {
                let files = try daemon.checkpoint()
                daemon.logger.info("state written", metadata: ["files": "\(files.joined(separator: ","))"])
                return
            } catch  where [EMFILE, ENFILE].contains(error.errnoValue) && MonotonicClock.nanoseconds() < deadline {
                if !waited { daemon.logger.warning("cannot write state at shutdown yet, waiting for descriptors: \(error)") }
                waited = true
                usleep(20_000)
            } catch {
                daemon.logger.error("cannot write state at shutdown: \(error)")
                return
            }
        }
    }
}
