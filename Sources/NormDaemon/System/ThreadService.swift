import Foundation
import ServiceLifecycle

/// A blocking loop (a ZeroMQ poll loop, an `accept` loop) run as a ServiceLifecycle service on a
/// thread of its own, so it never holds a thread of the cooperative pool. `run` starts the thread
/// and returns when `loop` does; graceful shutdown or cancellation calls `stop`, which must make
/// `loop` return soon (the loops here poll a stop flag every 100 ms).
///
/// Whatever the loop serves is bound before the service runs (in its owner's initializer), so a
/// bind failure stops the daemon before it reports ready.
public struct ThreadService: Service {
    let name: String
    let loop: @Sendable () -> Void
    let stop: @Sendable () -> Void

    public init(name: String, loop: @escaping @Sendable () -> Void, stop: @escaping @Sendable () -> Void) {
        self.name = name
        self.loop = loop
        self.stop = stop
    }

    public func run() async {
        let (finished, done) = AsyncStream<Never>.makeStream()
        let thread = Thread { [loop] in
            loop()
            done.finish()
        }
        thread.name = name
        thread.start()
        await withTaskCancellationOrGracefulShutdownHandler {
            for await _ in finished {}
        } onCancelOrGracefulShutdown: { [stop] in
            stop()
        }
    }
}
