import Dispatch
import Foundation
import Logging
import NATS
import NormCore
import Synchronization

/// One instance's share of a JetStream-fed pipeline. It keeps a pull outstanding on every
/// partition it owns (and on unowned ones while it holds less than its fair share), processes
/// each delivered message in order, and loses a partition when the server pins another client
/// (status 423) or when the bucket refuses its write. Runs on the thread that calls `run`.
public final class ClusterWorker: Sendable {
    public let settings: ClusterSettings
    public let counters: ClusterCounters
    let processor: ClusterProcessor
    let connection: NATSConnection
    let jetStream: JetStream
    let members: KeyValueBucket
    let logger: Logger
    let id: String
    private let stopRequested = Atomic<Bool>(false)
    /// Resets asked for by `reset`, done on the worker's thread between two messages.
    let resets = Mutex<[ResetRequest]>([])

    /// Connects, creates what is missing on the server and checks it can pin consumers.
    public init(settings: ClusterSettings, norm: NormSettings, mode: @escaping @Sendable () -> NormMode, affine: Affine?, threads: Int,
                channels: Int = 0, outputDType: DType? = nil, seed: (@Sendable (Int) -> RunningStatistics)? = nil, output: ClusterOutput,
                observer: (any ClusterObserver)? = nil, counters: ClusterCounters = ClusterCounters(),
                logger: Logger) throws(ClusterError) {
        if let problem = settings.problem { throw ClusterError(.topology, problem) }
        self.settings = settings
        self.logger = logger
        self.counters = counters
        do {
            connection = try NATSConnection(urls: settings.urls, name: "normd \(settings.pipeline)", onEvent: NATSConnection.logging(to: logger))
            jetStream = try connection.jetStream()
        } catch {
            throw ClusterError(.server, error.description, context: "connecting to NATS")
        }
        let topology = JetStreamTopology(settings: settings, jetStream: jetStream)
        let inputStream = try topology.ensure()
        let state: KeyValueBucket, refusals: KeyValueBucket
        do {
            members = try jetStream.keyValue(settings.memberBucket)
            state = try jetStream.keyValue(settings.stateBucket)
            refusals = try jetStream.keyValue(settings.refusalBucket)
            id = try connection.newInbox().split(separator: ".").last.map(String.init) ?? "normd"
        } catch {
            throw ClusterError(.server, error.description, context: "opening the key-value buckets")
        }
        if let was = try topology.limitKeys() {
            logger.notice("state bucket's key limit set", metadata: ["bucket": "\(settings.stateBucket)", "max_keys": "\(settings.maxKeys)", "was": "\(max(0, was))"])
        }
        try topology.limitRefusals()
        processor = ClusterProcessor(
            settings: settings, inputStream: inputStream, normalizer: Normalizer(settings: norm, threads: threads), mode: mode, affine: affine, channels: channels,
            outputDType: outputDType, seed: seed, state: state, refusals: refusals, jetStream: jetStream, output: output, counters: counters, observer: observer, logger: logger)
        compareAgreement()
    }

    public func stop() { stopRequested.store(true, ordering: .relaxed) }

    /// Drops the connection at once, leaving what was delivered unacknowledged: what a killed
    /// instance leaves behind, for in-process tests. `run` then ends with the connection's
    /// error, as when libnats closes it for good (it is not asked to stop: a stop seen before
    /// the error would end `run` without one).
    public func abandon() {
        connection.close()
    }


    /// One partition's pull and ownership.
    struct Partition {
        var pin: String?
        var pull = 0
        var outstanding = false
        /// Uptime nanoseconds after which an outstanding pull is given up: a pull the server lost
        /// (it restarted, the connection dropped) never ends with a status.
        var lapsesAt: UInt64 = 0
        var delivered = 0
        /// Uptime nanoseconds before which a partition pinned elsewhere is not asked again.
        var refusedUntil: UInt64 = 0
        /// Uptime nanoseconds of the last pull sent while not owning it.
        var asked: UInt64 = 0
        /// Owned, but no more pulls: what the outstanding pull delivers is processed (the pin
        /// is still ours), then the partition is let go.
        var releasing = false
        /// The pin under which a message was left unacknowledged: what it still delivers is
        /// dropped (unacknowledged too), so the messages come back in order once the pin lapses.
        var abandonedPin: String?
        var owned: Bool { pin != nil }
    }

    static let batch = 16
    static let expires = 0.5

    /// Runs until `stop` (or `shouldStop` returns true), then lets the outstanding pulls lapse.
    public func run(shouldStop: () -> Bool = { false }) throws(ClusterError) {
        let inbox: String
        let subscription: NATSSubscription
        do {
            inbox = try connection.newInbox()
            subscription = try connection.subscribe(inbox + ".>")
        } catch {
            throw ClusterError(.server, error.description, context: "subscribing to the pull inbox")
        }
        var partitions = Array(repeating: Partition(), count: settings.partitions)
        // Instances start asking at different partitions, so at start they do not all wait on the
        // same ones (each refused ask waits owner_timeout/2 before the next).
        let offset = Int.random(in: 0..<settings.partitions)
        for p in partitions.indices { partitions[p].asked = UInt64((p + offset) % settings.partitions) }
        var nextHeartbeat: UInt64 = 0, share = settings.partitions, lastOwned: [Int] = [], heartbeatsFail = false
        while !stopRequested.load(ordering: .relaxed) && !shouldStop() {
            processor.observer?.turned()
            doResets()
            let now = DispatchTime.now().uptimeNanoseconds
            for p in partitions.indices where partitions[p].outstanding && now >= partitions[p].lapsesAt {
                partitions[p].outstanding = false
                if partitions[p].releasing {
                    release(p, &partitions[p], why: "over the fair share")
                } else if remadeConsumer(p), partitions[p].owned {
                    lose(p, &partitions[p], why: "its consumer was made again")
                }
            }
            if now >= nextHeartbeat {
                share = heartbeat(failing: &heartbeatsFail)
                nextHeartbeat = now + UInt64(settings.ownerTimeout / 3 * 1e9)
            }
            var ownedCount = partitions.count { $0.owned && !$0.releasing }
            // Over the fair share: stop pulling the highest owned partitions; the server unpins
            // them after owner_timeout and another instance takes them.
            for p in partitions.indices.reversed() where ownedCount > share && partitions[p].owned && !partitions[p].releasing {
                partitions[p].releasing = true
                if !partitions[p].outstanding { release(p, &partitions[p], why: "over the fair share of \(share)") }
                ownedCount -= 1
            }
            for p in partitions.indices where partitions[p].owned && !partitions[p].outstanding && !partitions[p].releasing {
                pull(p, &partitions[p], inbox: inbox)
            }
            // Below the share: ask the unowned partitions asked longest ago, so every one is tried
            // in turn (one pinned elsewhere only answers when its pull expires).
            var asking = partitions.count { $0.outstanding && !$0.owned }
            let candidates = partitions.indices.filter { !partitions[$0].owned && !partitions[$0].outstanding && now >= partitions[$0].refusedUntil }
            for p in candidates.sorted(by: { partitions[$0].asked < partitions[$1].asked }) where ownedCount + asking < share {
                asking += 1
                partitions[p].asked = now
                pull(p, &partitions[p], inbox: inbox)
            }
            let message: NATSMessage?
            do {
                message = try subscription.next(timeout: 0.05)
            } catch {
                if error.isConnectionClosed { throw ClusterError(.server, error.description, context: "the pull inbox") }
                continue  // reconnecting: the pulls lapse and are sent again
            }
            if let message { receive(message, inbox: inbox, &partitions) }
            let owned = partitions.indices.filter { partitions[$0].owned }
            if owned != lastOwned {
                counters.setOwned(owned)
                lastOwned = owned
            }
        }
        counters.setOwned([])
    }

    private func pull(_ p: Int, _ partition: inout Partition, inbox: String) {
        partition.pull += 1
        partition.delivered = 0
        var json = #"{"batch":\#(Self.batch),"expires":\#(Int64(Self.expires * 1e9)),"group":"\#(ClusterSettings.group)""#
        if let pin = partition.pin { json += #","id":"\#(pin)""# }
        json += "}"
        let request = NATSMessage(
            subject: "$JS.API.CONSUMER.MSG.NEXT.\(settings.inputStream).\(settings.consumer(p))",
            reply: "\(inbox).\(p).\(partition.pull)", body: Array(json.utf8))
        do {
            try connection.publish(request)
            partition.outstanding = true
            partition.lapsesAt = DispatchTime.now().uptimeNanoseconds + UInt64((Self.expires + 2) * 1e9)
        } catch {
            logger.debug("pull not sent", metadata: ["partition": "\(p)", "error": "\(error)"])
        }
    }

    private func receive(_ message: NATSMessage, inbox: String, _ partitions: inout [Partition]) {
        // A status ends a pull and comes on its reply subject, "<inbox>.<partition>.<pull>"; a
        // delivery keeps its stream subject, "<prefix>.<partition>.<key>".
        if let status = message.status {
            let tokens = message.subject.dropFirst(inbox.count + 1).split(separator: ".")
            guard tokens.count == 2, let p = Int(tokens[0]), partitions.indices.contains(p), Int(tokens[1]) == partitions[p].pull else { return }
            partitions[p].outstanding = false
            logger.trace("pull ended", metadata: ["partition": "\(p)", "status": "\(status)"])
            if partitions[p].releasing { release(p, &partitions[p], why: "over the fair share") }
            if status == "423" {
                if partitions[p].owned { lose(p, &partitions[p], why: "the server pinned another instance") }
                partitions[p].refusedUntil = DispatchTime.now().uptimeNanoseconds + UInt64(settings.ownerTimeout / 2 * 1e9)
            }
            if status == "409", message.headers["Description"]?.contains("Deleted") == true, remadeConsumer(p), partitions[p].owned {
                lose(p, &partitions[p], why: "its consumer was made again")
            }
            return
        }
        let tokens = message.subject.split(separator: ".")
        guard tokens.count >= 2, let p = Int(tokens[tokens.count - 2]), partitions.indices.contains(p) else { return }
        if let pin = message.headers["Nats-Pin-Id"], pin == partitions[p].abandonedPin { return }
        if let pin = message.headers["Nats-Pin-Id"], pin != partitions[p].pin {
            if partitions[p].pin != nil { lose(p, &partitions[p], why: "the pin changed") }
            partitions[p].pin = pin
            processor.forget(partition: p)
            logger.log(level: ownershipLevel, "partition taken", metadata: ["partition": "\(p)"])
        }
        partitions[p].delivered += 1
        if let failure = processor.process(message, partition: p) {
            partitions[p].abandonedPin = partitions[p].pin
            lose(p, &partitions[p], why: failure)
            partitions[p].refusedUntil = DispatchTime.now().uptimeNanoseconds + UInt64(settings.ownerTimeout * 1.5e9)
        }
        if partitions[p].delivered >= Self.batch {
            partitions[p].outstanding = false
            if partitions[p].releasing { release(p, &partitions[p], why: "over the fair share") }
        }
    }

    private func lose(_ p: Int, _ partition: inout Partition, why: String) {
        partition.pin = nil
        processor.forget(partition: p)
        logger.log(level: ownershipLevel, "partition lost", metadata: ["partition": "\(p)", "reason": "\(why)"])
    }

    /// While the output stream is full, partitions are let go and taken again every few seconds
    /// (their inputs wait unacknowledged): that is said once, not at every turn.
    private var ownershipLevel: Logger.Level { processor.outputFullSince == nil ? .notice : .debug }

    private func release(_ p: Int, _ partition: inout Partition, why: String) {
        partition.releasing = false
        lose(p, &partition, why: why)
        partition.refusedUntil = DispatchTime.now().uptimeNanoseconds + UInt64(settings.ownerTimeout * 2 * 1e9)
    }
}
