import Foundation
import Locking
import Synchronization
import ZeroMQ

/// Counters the soak's threads share.
final class SoakTally: Sendable {
    let stop = Atomic<Bool>(false)
    let producersFinished = Atomic<Bool>(false)
    let consumerFinished = Atomic<Bool>(false)
    let outputs = Atomic<Int>(0)
    /// Per producer: valid batches sent, and their outputs received back.
    let sent: [SoakCounter]
    let received: [SoakCounter]
    let stalledNanoseconds = Atomic<UInt64>(0)

    init(producers: Int) {
        sent = (0..<producers).map { _ in SoakCounter() }
        received = (0..<producers).map { _ in SoakCounter() }
    }
}

final class SoakCounter: Sendable {
    let value = Atomic<Int>(0)
}

/// What one producer sent: per key, the pool index of the batch behind each seq, and the
/// malformed messages by kind.
struct SoakSent: Sendable {
    var order: [String: [Int]] = [:]
    var malformed: [String: Int] = Dictionary(uniqueKeysWithValues: Soak.malformedKinds.map { ($0, 0) })
}

/// The bodies of the soak's producer, consumer and dead-letter threads.
enum SoakPeers {
    static func produce(
        index: Int, of producers: Int, keys: Int, rate: Double, pool: SoakBatchPool,
        endpoints: SoakEndpoints, tally: SoakTally, context: ZMQContext
    ) throws -> SoakSent {
        var random = SplitMix64(seed: 1000 + UInt64(index))
        let names = stride(from: index, to: keys, by: producers).map { "key\($0)" }
        var seqs = [Int](repeating: 0, count: names.count)
        var record = SoakSent()
        let interval = UInt64(Double(producers) / rate * 1e9)
        var socket: ZMQSocket?
        var reconnectAt: UInt64 = 0
        var next = nanoseconds()
        var n = 0
        defer { socket?.close(lingerMilliseconds: 10_000) }
        while !tally.stop.load(ordering: .relaxed) {
            if socket == nil || nanoseconds() > reconnectAt {
                if let old = socket {
                    // Two live connections from one producer are fair-queued by ZeroMQ, so a key's
                    // batches could reach normd out of send order: let the old one drain first.
                    awaitOutputs(of: index, tally: tally, evenWhenStopping: false)
                    old.close(lingerMilliseconds: 10_000)
                }
                let fresh = try ZMQSocket(context, .push)
                try fresh.setHighWaterMarks(send: 16)
                try fresh.set(ZMQOption.sendTimeout, 200)
                try fresh.connect(endpoints.input)
                socket = fresh
                reconnectAt = nanoseconds() + UInt64(random.uniform(3, 8) * 1e9)
            }
            n += 1
            let slot = n % names.count
            let key = names[slot]
            let batch = n % pool.batches.count
            if n % 17 == 0 {
                let kind = Soak.malformedKinds[n / 17 % Soak.malformedKinds.count]
                guard try send(malformed(kind, key: key, pool: pool, batch: batch), on: socket!, tally: tally) else { break }
                record.malformed[kind, default: 0] += 1
                continue
            }
            let frames = [
                try ZMQMessage(string: key), try ZMQMessage(string: "\(SoakBatchPool.header),\"seq\":\(seqs[slot])}"),
                try ZMQMessage(sending: pool.batches[batch]),
            ]
            guard try send(frames, on: socket!, tally: tally) else { break }
            seqs[slot] += 1
            record.order[key, default: []].append(batch)
            tally.sent[index].value.add(1, ordering: .relaxed)
            // Paced to the rate; after a stall the producer resumes the pace instead of bursting
            // to catch up, so the load stays what was asked for while the consumer reads.
            next += interval
            let time = nanoseconds()
            if next > time {
                usleep(UInt32((next - time) / 1000))
            } else if time - next > 100_000_000 {
                next = time
            }
        }
        awaitOutputs(of: index, tally: tally, evenWhenStopping: true)
        return record
    }

    /// Waits (up to 20 s) until every valid batch the producer sent has come back out of normd.
    /// Closing a PUSH socket right after a send can lose its last messages despite ZMQ_LINGER
    /// (libzmq issues 1922, 3774, 4660), so a producer never closes one with batches outstanding.
    static func awaitOutputs(of index: Int, tally: SoakTally, evenWhenStopping: Bool) {
        let deadline = nanoseconds() + 20_000_000_000
        while nanoseconds() < deadline, evenWhenStopping || !tally.stop.load(ordering: .relaxed),
            tally.received[index].value.load(ordering: .relaxed) < tally.sent[index].value.load(ordering: .relaxed)
        {
            usleep(5_000)
        }
    }

    static func malformed(_ kind: String, key: String, pool: SoakBatchPool, batch: Int) throws -> [ZMQMessage] {
        let header = "\(SoakBatchPool.header)}"
        switch kind {
        case "header": return [try ZMQMessage(string: key), try ZMQMessage(string: "{not json"), try ZMQMessage(sending: pool.batches[batch])]
        case "shape":
            return [
                try ZMQMessage(string: key), try ZMQMessage(string: "{\"dtype\":\"float32\",\"shape\":[0,4]}"),
                try ZMQMessage(sending: pool.batches[batch]),
            ]
        case "nonfinite": return [try ZMQMessage(string: key), try ZMQMessage(string: header), try ZMQMessage(sending: pool.nonFinite)]
        default:
            let short = pool.batches[batch]
            return [
                try ZMQMessage(string: key), try ZMQMessage(string: header),
                try ZMQMessage(copying: UnsafeRawBufferPointer(start: short.bytes, count: short.count - 4)),
            ]
        }
    }

    /// Sends one message, blocking while the daemon's input is full; false once the soak stops.
    static func send(_ frames: [ZMQMessage], on socket: ZMQSocket, tally: SoakTally) throws -> Bool {
        while !tally.stop.load(ordering: .relaxed) {
            if try socket.send(multipart: frames) { return true }
        }
        return false
    }

    /// Receives every output, stalling now and then; per key, the seqs in arrival order.
    static func consume(endpoints: SoakEndpoints, tally: SoakTally, context: ZMQContext) throws -> [String: [Int]] {
        let socket = try ZMQSocket(context, .pull)
        defer { socket.close(lingerMilliseconds: 0) }
        try socket.setHighWaterMarks(receive: 16)
        try socket.set(ZMQOption.receiveTimeout, 200)
        try socket.connect(endpoints.output)
        var received: [String: [Int]] = [:]
        var stallAt = nanoseconds() + UInt64(10e9)
        var quietSince: UInt64?
        let producers = tally.sent.count
        while true {
            if nanoseconds() > stallAt, !tally.stop.load(ordering: .relaxed) {
                Thread.sleep(forTimeInterval: Soak.stallFor)
                tally.stalledNanoseconds.add(UInt64(Soak.stallFor * 1e9), ordering: .relaxed)
                stallAt = nanoseconds() + UInt64(Soak.stallEvery * 1e9)
            }
            guard let message = try socket.receiveMultipart(maxFrames: 3, dontWait: false), message.frames.count == 3 else {
                if tally.producersFinished.load(ordering: .relaxed) {
                    quietSince = quietSince ?? nanoseconds()
                    if nanoseconds() - quietSince! > 2_000_000_000 { break }
                }
                continue
            }
            quietSince = nil
            let key = String(decoding: message.frames[0].bytes, as: UTF8.self)
            guard let seq = message.frames[1].withUnsafeBytes({ seqField(in: $0) }) else { continue }
            received[key, default: []].append(seq)
            if let number = Int(key.dropFirst(3)) { tally.received[number % producers].value.add(1, ordering: .relaxed) }
            tally.outputs.add(1, ordering: .relaxed)
        }
        return received
    }

    static func drainDeadLetters(endpoints: SoakEndpoints, tally: SoakTally, context: ZMQContext) throws {
        let socket = try ZMQSocket(context, .pull)
        defer { socket.close(lingerMilliseconds: 0) }
        try socket.set(ZMQOption.receiveTimeout, 200)
        try socket.connect(endpoints.deadLetters)
        while !tally.consumerFinished.load(ordering: .relaxed) {
            _ = try socket.receiveMultipart(maxFrames: 3, dontWait: false)
        }
    }

    /// The integer after `"seq":` in a header.
    static func seqField(in header: UnsafeRawBufferPointer) -> Int? {
        let pattern = Array("\"seq\":".utf8)
        guard header.count > pattern.count else { return nil }
        for start in 0...(header.count - pattern.count) where header[start] == pattern[0] {
            guard (0..<pattern.count).allSatisfy({ header[start + $0] == pattern[$0] }) else { continue }
            var value = 0
            var position = start + pattern.count
            var digits = 0
            while position < header.count, header[position] >= 48, header[position] <= 57 {
                value = value * 10 + Int(header[position] - 48)
                position += 1
                digits += 1
            }
            return digits > 0 ? value : nil
        }
        return nil
    }

    /// Monotonic nanoseconds.
    static func nanoseconds() -> UInt64 { DispatchTime.now().uptimeNanoseconds }
}
