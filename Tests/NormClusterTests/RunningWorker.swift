import Foundation
import Logging
import NormCluster
import NormCore
import NormTestSupport

/// A worker on a thread of its own, stopped and joined by `stop`.
final class RunningWorker: Sendable {
    let worker: ClusterWorker
    private let finished = DispatchSemaphore(value: 0)

    let log = CapturedLog()

    init(_ settings: ClusterSettings, threads: Int = 1) throws {
        let log = log
        worker = try ClusterWorker(
            settings: settings, norm: NormSettings(kind: .batch, momentum: .factor(0.1)), mode: { .train }, affine: nil, threads: threads,
            output: .jetStream, logger: Logger(label: "test", factory: { _ in log.handler() }))
        let worker = worker, finished = finished
        Thread {
            try? worker.run()
            finished.signal()
        }.start()
    }

    /// What SIGKILL leaves: the connection drops with deliveries unacknowledged.
    func kill() {
        worker.abandon()
        finished.wait()
    }

    func stop() {
        worker.stop()
        finished.wait()
    }
}

