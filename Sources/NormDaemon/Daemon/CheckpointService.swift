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
        await Blocking.run { [daemon] in
            do {
                let files = try daemon.checkpoint()
                daemon.logger.info("state written", metadata: ["files": "\(files.joined(separator: ","))"])
            } catch {
                daemon.logger.error("cannot write state at shutdown: \(error)")
            }
        }
    }
}
