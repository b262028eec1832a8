import Dispatch
import Foundation
import Locking
import Logging
import NormCluster
import NormCore
import Synchronization
import ZeroMQ

/// One configured pipeline: an input socket, per-key lanes that normalize, an output socket and
/// an optional dead-letter socket. Its sockets live on a thread of their own; `state` outlives it.
public final class Pipeline: Sendable {
    /// The configuration and state in force: replaced together by a retune.
    private let current: ObservedMutex<(configuration: PipelineConfiguration, state: PipelineState)>
    public var configuration: PipelineConfiguration { current.withLock { $0.configuration } }
    public var state: PipelineState { current.withLock { $0.state } }
    /// New norm settings waiting for the loop to be idle, and the signal it gives when applied.
    private let pendingRetune = ObservedMutex<Retune?>(nil)
    struct Retune: Sendable {
        let configuration: PipelineConfiguration
        let state: PipelineState
        let applied: DispatchSemaphore
    }
    let context: ZMQContext
    let authenticator: ZAPAuthenticator
    let logger: Logger
    let threads: Int

    private let stopRequested = Atomic<Bool>(false)
    /// Uptime nanoseconds after which a stopping pipeline gives up on what it still holds.
    private let stopDeadline = Atomic<UInt64>(.max)
    /// Uptime nanoseconds of the loop's last turn, for the watchdog.
    let lastTurn = Atomic<UInt64>(0)
    let wake: EventSignal
    /// A JetStream input's worker counters (partitions owned, duplicates skipped…), once running.
    let clusterCounters = ObservedMutex<ClusterCounters?>(nil)
    /// A JetStream input's worker while it runs (`ctl reset` writes through it to the bucket).
    let clusterWorker = ObservedMutex<ClusterWorker?>(nil)
    private let finished = DispatchSemaphore(value: 0)

    public init(
        configuration: PipelineConfiguration, state: PipelineState, context: ZMQContext, authenticator: ZAPAuthenticator,
        threads: Int, logger: Logger
    ) throws(DaemonError) {
        self.current = ObservedMutex((configuration, state))
        self.context = context
        self.authenticator = authenticator
        self.threads = threads
        var logger = logger
        logger[metadataKey: "pipeline"] = "\(configuration.name)"
        self.logger = logger
        self.wake = try EventSignal()
    }

    /// Starts the loop's thread and returns once its sockets are bound and connected.
    public func start() throws(DaemonError) {
        let started = DispatchSemaphore(value: 0)
        let failure = ObservedMutex<DaemonError?>(nil)
        let thread = Thread { [self] in
            if configuration.input.socket == .jetstream {
                runCluster(started: started, failure: failure)
                return
            }
            let loop: PipelineLoop
            do {
                loop = try PipelineLoop(pipeline: self)
            } catch {
                let daemonError = error as? DaemonError ?? DaemonError(.socket, "\(error)")
                failure.withLock { $0 = daemonError }
                started.signal()
                finished.signal()
                return
            }
            started.signal()
            loop.run()
            loop.close()
            finished.signal()
        }
        thread.name = "normd.\(configuration.name)"
        thread.start()
        started.wait()
        if let error = failure.withLock({ $0 }) { throw error }
    }

    /// A JetStream input's thread: its cluster worker runs until the pipeline stops, and is made
    /// again when it stops on an error.
    private func runCluster(started: DispatchSemaphore, failure: borrowing ObservedMutex<DaemonError?>) {
        let output: ClusterOutput
        let closeOutput: () -> Void
        var worker: ClusterWorker
        do {
            (output, closeOutput) = try clusterOutput()
            worker = try makeClusterWorker(output: output)
        } catch {
            failure.withLock { $0 = error }
            started.signal()
            finished.signal()
            return
        }
        clusterCounters.withLock { $0 = worker.counters }
        clusterWorker.withLock { $0 = worker }
        started.signal()
        var pause = 0.5
        while true {
            let began = MonotonicClock.nanoseconds()
            do {
                try worker.run(shouldStop: { [self] in isStopping })
                break
            } catch {
                if isStopping { break }
                logger.error("cluster worker stopped: \(error); starting it again")
            }
            clusterWorker.withLock { $0 = nil }
            // A worker that ran a while starts again after a second; one that keeps failing at
            // once waits twice as long each time, up to 30 s.
            pause = MonotonicClock.nanoseconds() - began > 60_000_000_000 ? 1 : min(pause * 2, 30)
            guard let next = restartClusterWorker(output: output, counters: worker.counters, pause: &pause) else { break }
            worker = next
            clusterWorker.withLock { $0 = worker }
        }
        clusterWorker.withLock { $0 = nil }
        closeOutput()
        finished.signal()
    }

    /// Asks the loop to stop reading, publish what it holds, and close by `deadline`.
    public func stop(within seconds: Double) {
        let deadline = MonotonicClock.deadline(after: seconds)
        stopDeadline.store(deadline, ordering: .relaxed)
        stopRequested.store(true, ordering: .releasing)
        wake.signal()
    }

    /// Waits until the loop has closed its sockets.
    public func join() {
        finished.wait()
        finished.signal()
    }

    /// Changes the norm settings of a running pipeline without touching its sockets: the loop stops
    /// reading, lets what is in flight finish, swaps in the new settings and state, and reads on.
    /// Returns false, withdrawing the change, when the loop was not idle within `seconds` (an
    /// output blocked by a stalled consumer); the caller then restarts the pipeline instead.
    public func retune(to configuration: PipelineConfiguration, state: PipelineState, within seconds: Double) -> Bool {
        // A cluster worker's norm settings are fixed for its run: it is restarted instead.
        if self.configuration.input.socket == .jetstream { return false }
        let retune = Retune(configuration: configuration, state: state, applied: DispatchSemaphore(value: 0))
        pendingRetune.withLock { $0 = retune }
        wake.signal()
        if retune.applied.wait(timeout: .now() + max(0.1, seconds)) == .success { return true }
        let withdrawn = pendingRetune.withLock { pending in
            guard pending?.applied === retune.applied else { return false }
            pending = nil
            return true
        }
        if withdrawn { return false }
        retune.applied.wait()  // the loop took it meanwhile; applying is quick
        return true
    }

    var hasPendingRetune: Bool { pendingRetune.withLock { $0 != nil } }

    /// For the loop, when idle: the pending retune, now in force.
    func takeRetune() -> Retune? {
        guard
            let retune = pendingRetune.withLock({ pending -> Retune? in
                defer { pending = nil }
                return pending
            })
        else { return nil }
        current.withLock { $0 = (retune.configuration, retune.state) }
        return retune
    }

    var isStopping: Bool { stopRequested.load(ordering: .acquiring) }
    var deadlinePassed: Bool { MonotonicClock.nanoseconds() >= stopDeadline.load(ordering: .relaxed) }
    var remainingMilliseconds: Int32 {
        let deadline = stopDeadline.load(ordering: .relaxed)
        let now = MonotonicClock.nanoseconds()
        return deadline == .max ? 0 : Int32(clamping: deadline > now ? (deadline - now) / 1_000_000 : 0)
    }

    /// Whether the loop turned within `seconds` (a pipeline waiting on a full output still turns).
    public func isTurning(within seconds: Double) -> Bool {
        MonotonicClock.nanoseconds() &- lastTurn.load(ordering: .relaxed) <= UInt64(seconds * 1e9)
    }

}
