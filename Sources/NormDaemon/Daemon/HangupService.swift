import ServiceLifecycle
import UnixSignals

/// Reloads the configuration on SIGHUP, as `normd ctl reload` does.
struct HangupService: Service {
    let daemon: Daemon

    func run() async {
        let hangups = await UnixSignalsSequence(trapping: .sighup)
        if StartupHangup.take() {
            daemon.logger.info("SIGHUP while starting: reloading")
            await Blocking.run { [daemon] in _ = try? daemon.reload() }
        }
        for await _ in hangups.cancelOnGracefulShutdown() {
            daemon.logger.info("SIGHUP: reloading")
            await Blocking.run { [daemon] in _ = try? daemon.reload() }
        }
    }
}
