import ServiceLifecycle
import UnixSignals

/// Reloads the configuration on SIGHUP, as `normd ctl reload` does.
struct HangupService: Service {
    let daemon: Daemon

    func run() async {
        for await _ in await UnixSignalsSequence(trapping: .sighup).cancelOnGracefulShutdown() {
            daemon.logger.info("SIGHUP: reloading")
            await Blocking.run { [daemon] in _ = try? daemon.reload() }
        }
    }
}
