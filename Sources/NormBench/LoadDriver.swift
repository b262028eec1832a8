import Foundation
import Locking
import Synchronization
import ZeroMQ

/// The bench's producer and consumer: keeps `inFlight` batches outstanding between a PUSH to
/// the target's input and a PULL from its output, timing each batch from send to receipt.
public struct LoadDriver: Sendable {
    let input: String
    let output: String
    let payload: ZMQBuffer
    let header: String
    let inFlight: Int
    let hwm: Int32
    /// Stream keys the producer cycles through ("k0", "k1", …); 1 sends every batch as "bench".
    var keys = 1

    public struct Result: Sendable {
        var batches = 0
        var bytes = 0
        var seconds = 0.0
        var latenciesMs: [Double] = []

        public var batchesPerSecond: Double { Double(batches) / seconds }
        public var gigabytesPerSecond: Double { Double(bytes) / seconds / 1e9 }
        public func percentile(_ p: Double) -> Double {
            let sorted = latenciesMs.sorted()
            guard !sorted.isEmpty else { return .nan }
            return sorted[min(sorted.count - 1, max(0, Int((p * Double(sorted.count)).rounded(.up)) - 1))]
        }
    }

    /// Runs `warmup` seconds unmeasured, then `duration` measured; `tick` is called about once a second.
    func run(warmup: Double, duration: Double, tick: @escaping @Sendable (Int, Double) -> Void) throws -> Result {
        let context = try ZMQContext()
        defer { context.terminate() }
        // Starts at 0 and is signalled up: libdispatch traps when a semaphore is freed below its initial value.
        let credits = DispatchSemaphore(value: 0)
        for _ in 0..<inFlight { credits.signal() }
        let stop = Atomic<Bool>(false)
        let measuring = Atomic<Bool>(false)
        let result = ObservedMutex(Result())
        // Read-only once filled, so the producer threads may share it.
        let payload = UncheckedTransfer(payload)
        let header = header
        let input = input
        let output = output
        let hwm = hwm
        let keyNames = keys <= 1 ? ["bench"] : (0..<keys).map { "k\($0)" }

        let consumer = BenchThread("bench consumer") {
            do {
                let socket = try ZMQSocket(context, .pull)
                try socket.setHighWaterMarks(receive: hwm)
                try socket.set(ZMQOption.receiveTimeout, 200)
                try socket.setLinger(milliseconds: 0)
                try socket.connect(output)
                while !stop.load(ordering: .relaxed) {
                    guard let message = try socket.receiveMultipart(maxFrames: 3, dontWait: false), message.frames.count == 3 else { continue }
                    credits.signal()
                    let sentAt = message.frames[1].withUnsafeBytes { LoadDriver.sendTime(in: $0) }
                    let received = Double(DispatchTime.now().uptimeNanoseconds)
                    if measuring.load(ordering: .relaxed) {
                        result.withLock {
                            $0.batches += 1
                            $0.bytes += payload.value.count
                            if let sentAt { $0.latenciesMs.append((received - sentAt) / 1e6) }
                        }
                    }
                }
                socket.close(lingerMilliseconds: 0)
            } catch {
                throw BenchError("consumer: \(error)")
            }
        }
        let producer = BenchThread("bench producer") {
            do {
                let socket = try ZMQSocket(context, .push)
                try socket.setHighWaterMarks(send: hwm)
                try socket.set(ZMQOption.sendTimeout, 200)
                try socket.setLinger(milliseconds: 0)
                try socket.connect(input)
                var seq = 0
                while !stop.load(ordering: .relaxed) {
                    guard credits.wait(timeout: .now() + .milliseconds(200)) == .success else { continue }
                    let text = header.replacingOccurrences(of: "\"t\":0", with: "\"t\":\(DispatchTime.now().uptimeNanoseconds),\"seq\":\(seq)")
                    let frames = [try ZMQMessage(string: keyNames[seq % keyNames.count]), try ZMQMessage(string: text), try ZMQMessage(sending: payload.value)]
                    while !stop.load(ordering: .relaxed), !(try socket.send(multipart: frames, dontWait: false)) {}
                    seq += 1
                }
                socket.close(lingerMilliseconds: 0)
            } catch {
                throw BenchError("producer: \(error)")
            }
        }
        Thread.sleep(forTimeInterval: warmup)
        measuring.store(true, ordering: .relaxed)
        let start = DispatchTime.now().uptimeNanoseconds
        var elapsed = 0.0
        while elapsed < duration {
            Thread.sleep(forTimeInterval: min(1, duration - elapsed))
            elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            tick(result.withLock { $0.batches }, elapsed)
        }
        measuring.store(false, ordering: .relaxed)
        stop.store(true, ordering: .relaxed)
        // Both are joined before either failure is thrown, so no thread outlives the context.
        let produced = Swift.Result { try producer.join() }
        let consumed = Swift.Result { try consumer.join() }
        try produced.get()
        try consumed.get()
        var final = result.withLock { $0 }
        final.seconds = elapsed
        return final
    }

    /// The `"t":NANOSECONDS` the producer wrote into the header.
    static func sendTime(in header: UnsafeRawBufferPointer) -> Double? {
        let text = String(decoding: header, as: UTF8.self)
        guard let range = text.range(of: "\"t\":") else { return nil }
        return Double(text[range.upperBound...].prefix { $0.isNumber })
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
