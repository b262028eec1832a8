import Logging
import NormCluster
import NormCore
import NormFormats
import ZeroMQ

extension Pipeline {
    /// A JetStream-fed pipeline's worker (contract section 8): it connects, creates what is
    /// missing on the server and checks the server can pin consumers, so a missing or too old
    /// server fails the start with a clear error.
    func makeClusterWorker() throws(DaemonError) -> ClusterWorker {
        let config = configuration
        let state = state
        var cluster = ClusterSettings(pipeline: config.name, urls: config.input.servers)
        (cluster.inputStream, cluster.inputPrefix, cluster.partitions) = (config.input.stream, config.input.subjectPrefix, config.input.partitions)
        (cluster.ackWait, cluster.ownerTimeout) = (config.input.ackWaitS, config.input.ownerTimeoutS)
        cluster.maxKeys = config.norm.settings.hasRunningStatistics ? config.norm.maxKeys : 0
        let output: ClusterOutput
        if config.output.socket == .jetstream {
            (cluster.outputStream, cluster.outputPrefix) = (config.output.stream, config.output.subjectPrefix)
            output = .jetStream
        } else {
            cluster.outputStream = nil
            output = .sink(try zeroMQSink(config))
        }
        do {
            return try ClusterWorker(
                settings: cluster, norm: config.norm.settings, mode: { state.mode }, affine: state.affine, threads: threads,
                channels: config.norm.channels, outputDType: config.output.dtype, seed: state.store.seed, output: output,
                observer: PipelineClusterObserver(
                    pipeline: self, state: state, rejections: RateLimitedLog(logger: logger, perInterval: 10, intervalSeconds: 10)),
                logger: logger)
        } catch {
            throw DaemonError(.socket, "pipeline \(config.name): \(error)")
        }
    }

    /// A JetStream input's outputs sent on a ZeroMQ socket as [topic, header, payload]. The
    /// socket is used on the worker's thread only; a full output waits (in the socket's timed
    /// sends) until the pipeline stops.
    private func zeroMQSink(_ config: PipelineConfiguration) throws(DaemonError) -> @Sendable (String, [UInt8], [UInt8]) throws -> Void {
        let socket: ZMQSocket
        do {
            socket = try SocketFactory(context: context, pipeline: config.name, authenticator: authenticator).output(config.output)
        } catch let error as DaemonError {
            throw error
        } catch {
            throw DaemonError(.socket, "pipeline \(config.name): \(error)")
        }
        // Only the worker's thread sends; the box carries the socket there.
        let box = UncheckedSocket(socket)
        let topic = config.output.topic
        return { [self] key, header, payload in
            let frames = [try ZMQMessage(string: topic.isEmpty ? key : topic), try ZMQMessage(header), try ZMQMessage(payload)]
            while !(try box.socket.send(multipart: frames)) {
                lastTurn.store(MonotonicClock.nanoseconds(), ordering: .relaxed)
                if isStopping { throw DaemonError(.socket, "stopping with the output full") }
            }
        }
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
    func released(keys: [String]) { state.store.remove(keys) }
    func turned() { pipeline.lastTurn.store(MonotonicClock.nanoseconds(), ordering: .relaxed) }
}
