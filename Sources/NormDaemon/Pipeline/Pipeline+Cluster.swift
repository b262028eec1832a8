import Foundation
import Logging
import NormCluster
import NormCore
import NormFormats
import ZeroMQ

extension Pipeline {
    /// Where a JetStream-fed pipeline's outputs go: the output stream, or a ZeroMQ socket made
    /// once for the pipeline's run (a worker made again after a failure keeps it), with what
    /// closes that socket: the pipeline closes it before it says it has stopped, so a restart
    /// can bind its endpoint again.
    func clusterOutput() throws(DaemonError) -> (output: ClusterOutput, close: () -> Void) {
        guard configuration.output.socket != .jetstream else { return (.jetStream, {}) }
        let (sink, socket) = try zeroMQSink(configuration)
        return (.sink(sink), { [self] in socket.close(lingerMilliseconds: max(0, remainingMilliseconds)) })
    }

    /// A JetStream-fed pipeline's worker (contract section 8): it connects, creates what is
    /// missing on the server and checks the server can pin consumers, so a missing or too old
    /// server fails the start with a clear error.
    func makeClusterWorker(output: ClusterOutput, counters: ClusterCounters = ClusterCounters()) throws(DaemonError) -> ClusterWorker {
        let config = configuration
        let state = state
        var cluster = ClusterSettings(pipeline: config.name, urls: config.input.servers)
        (cluster.inputStream, cluster.inputPrefix, cluster.partitions) = (config.input.stream, config.input.subjectPrefix, config.input.partitions)
        (cluster.ackWait, cluster.ownerTimeout) = (config.input.ackWaitS, config.input.ownerTimeoutS)
        cluster.maxKeys = config.norm.settings.hasRunningStatistics ? config.norm.maxKeys : 0
        cluster.agreement = Self.agreement(config)
        if config.output.socket == .jetstream {
            (cluster.outputStream, cluster.outputPrefix) = (config.output.stream, config.output.subjectPrefix)
        } else {
            cluster.outputStream = nil
        }
        do {
            return try ClusterWorker(
                settings: cluster, norm: config.norm.settings, mode: { state.mode }, affine: state.affine, threads: threads,
                channels: config.norm.channels, outputDType: config.output.dtype, seed: state.store.seed, output: output,
                observer: PipelineClusterObserver(
                    pipeline: self, state: state, rejections: RateLimitedLog(logger: logger, perInterval: 10, intervalSeconds: 10)),
                counters: counters, logger: logger)
        } catch {
            throw DaemonError(.socket, "pipeline \(config.name): \(error)")
        }
    }

    /// What every instance of a cluster pipeline should agree on, as the configuration writes it:
    /// the norm keys that decide the numbers (not `mode`, which `ctl mode` sets per instance; not
    /// `init`'s path, which may differ between machines: its statistics are compared instead; not
    /// drift), and the output dtype.
    static func agreement(_ config: PipelineConfiguration) -> String {
        let compared: Set<String> = [
            "kind", "channels", "groups", "eps", "momentum", "affine", "stats", "track_running_stats", "nonfinite", "max_keys", "key_policy", "variance",
        ]
        var lines = ConfigurationSchema.norm.keys.filter { compared.contains($0.name) }.map { "\($0.name) = \($0.render(config.norm))" }
        lines.append("dtype = \(config.output.dtype?.rawValue ?? "same")")
        if let initial = config.norm.initValues {
            // FNV-1a over the statistics' text: the same on every machine (hashValue is seeded per process).
            let digest = "\(initial)".utf8.reduce(UInt64(0xcbf2_9ce4_8422_2325)) { ($0 ^ UInt64($1)) &* 0x100_0000_01b3 }
            lines.append("init = \(String(digest, radix: 16))")
        }
        return lines.joined(separator: "\n")
    }

    /// Makes the worker again after it stopped on an error (libnats closes a connection for good
    /// on some server errors), with pauses growing from `pause` to 30 s while that fails, until it
    /// starts or the pipeline stops (nil). Meanwhile the pipeline counts as turning: it is waiting
    /// on its server, as it does while the connection reconnects.
    func restartClusterWorker(output: ClusterOutput, counters: ClusterCounters, pause: inout Double) -> ClusterWorker? {
        while true {
            let until = MonotonicClock.deadline(after: pause)
            while MonotonicClock.nanoseconds() < until {
                if isStopping { return nil }
                lastTurn.store(MonotonicClock.nanoseconds(), ordering: .relaxed)
                Thread.sleep(forTimeInterval: 0.02)
            }
            do {
                let worker = try makeClusterWorker(output: output, counters: counters)
                logger.notice("cluster worker started again")
                return worker
            } catch {
                pause = min(pause * 2, 30)
                logger.warning("cluster worker not started again", metadata: ["error": "\(error)", "retry_in_s": "\(pause)"])
            }
        }
    }

    /// A JetStream input's outputs sent on a ZeroMQ socket as [topic, header, payload]. The
    /// socket is used on the worker's thread only; a full output waits (in the socket's timed
    /// sends) until the pipeline stops.
    private func zeroMQSink(_ config: PipelineConfiguration) throws(DaemonError) -> (@Sendable (String, [UInt8], [UInt8]) throws -> Void, ZMQSocket) {
        let socket: ZMQSocket
        do {
            socket = try SocketFactory(context: context, pipeline: config.name, authenticator: authenticator).output(config.output)
        } catch let error as DaemonError {
            throw error
        } catch {
            throw DaemonError(.socket, "pipeline \(config.name): \(error)")
        }
        ConnectCheck.warnUnresolved(config.output.connect, side: "output", logger: logger)
        // Only the worker's thread sends; the box carries the socket there.
        let box = UncheckedSocket(socket)
        let topic = config.output.topic
        let sink: @Sendable (String, [UInt8], [UInt8]) throws -> Void = { [self] key, header, payload in
            let frames = [try ZMQMessage(string: topic.isEmpty ? key : topic), try ZMQMessage(header), try ZMQMessage(payload)]
            while !(try box.socket.send(multipart: frames)) {
                lastTurn.store(MonotonicClock.nanoseconds(), ordering: .relaxed)
                if isStopping { throw DaemonError(.socket, "stopping with the output full") }
            }
        }
        return (sink, socket)
    }
}

/// Carries a socket to the one thread that uses it. `@unchecked Sendable`: the sink that holds it
/// is called from the cluster worker's thread alone.
private final class UncheckedSocket: @unchecked Sendable {
    let socket: ZMQSocket
    init(_ socket: ZMQSocket) { self.socket = socket }
}

/// Counts a cluster worker's messages where a ZeroMQ pipeline's are counted, keeps a copy of the
/// owned keys' statistics in the pipeline's store (for `ctl show`, checkpoints and metrics), and
/// tells the watchdog the worker turns.
struct PipelineClusterObserver: ClusterObserver {
    let pipeline: Pipeline
    let state: PipelineState
    /// The same budget as a ZeroMQ input's rejections.
    let rejections: RateLimitedLog

    func received(bytes: Int) { state.counters.received(bytes: bytes) }
    func published(bytes: Int, latencyMs: Double) { state.counters.published(bytes: bytes, latencyMs: latencyMs) }
    func rejected(_ rejection: Rejection, key: String) {
        state.counters.rejected(rejection.reason)
        rejections.log(rejection, key: key, seq: nil)
    }
    func applied(key: String, channels: Int, statistics: RunningStatistics?) {
        state.store.restore(key: key, channels: channels, statistics: statistics)
    }
    func deadLettered(sent: Bool) { state.counters.deadLetter(sent: sent) }
    func released(keys: [String]) { state.store.remove(keys) }
    func turned() { pipeline.lastTurn.store(MonotonicClock.nanoseconds(), ordering: .relaxed) }
}
