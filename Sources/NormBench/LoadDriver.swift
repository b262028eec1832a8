import Foundation
import Locking
import Synchronization
import ZeroMQ

/// The bench's producer and consumer: keeps `inFlight` batches outstanding between a PUSH to
/// the target's input and a PULL from its output, timing each batch from send to receipt.
/// Messages are pre-built: the header is a template whose send time and seq are written into
/// fixed-width digits, so the driver's own cost per message stays small and flat.
public struct LoadDriver: Sendable {
    let input: String
    let output: String
    let payload: ZMQBuffer
    /// The header's fields before `t` and `seq` (a JSON object's text without its closing brace).
    let header: String
    let inFlight: Int
    let hwm: Int32
    /// Stream keys the producer cycles through ("k0", "k1", …); 1 sends every batch as "bench".
    var keys = 1
    /// The producer and consumer joined directly: the consumer binds `output` and the producer
    /// connects there (no daemon, no forwarder), to measure the driver's own capacity.
    var direct = false
    /// Batches a second the producer offers, on a fixed schedule (nil: as fast as the window
    /// allows). A paced run measures latency below capacity, where queues do not dominate it.
    var rate: Double?
    /// The target's process: its CPU time over the measured window goes into the result
    /// (the machine's busy share is measured with or without it).
    var watched: Int32?

    /// Send times and seqs are written as 10^18 + value: always 19 digits, a valid JSON integer.
    static let fixedWidthBase: UInt64 = 1_000_000_000_000_000_000

    /// The header template's bytes and where the 19 digits of `t` and of `seq` go.
    static func template(_ fields: String) -> (bytes: [UInt8], time: Int, seq: Int) {
        let digits = String(fixedWidthBase)
        var bytes = Array(fields.utf8)
        bytes += #","t":"#.utf8
        let time = bytes.count
        bytes += digits.utf8
        bytes += #","seq":"#.utf8
        let seq = bytes.count
        bytes += digits.utf8
        bytes.append(UInt8(ascii: "}"))
        return (bytes, time, seq)
    }

    /// Writes `fixedWidthBase + value` as 19 digits at `offset`.
    static func writeDigits(_ value: UInt64, into bytes: inout [UInt8], at offset: Int) {
        var number = fixedWidthBase &+ value
        for i in stride(from: offset + 18, through: offset, by: -1) {
            bytes[i] = UInt8(ascii: "0") + UInt8(number % 10)
            number /= 10
        }
    }

    public struct Result: Sendable {
        var batches = 0
        var bytes = 0
        var seconds = 0.0
        var latenciesMs: [Double] = []
        /// The machine's busy share and the watched process's CPU over the measured window.
        var cpu: CPUTimes.Use?

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
        let counted = Atomic<Int>(0)
        // Read-only once filled, so the producer threads may share it.
        let payload = UncheckedTransfer(payload)
        let template = Self.template(header)
        let direct = direct
        let input = direct ? output : input
        let output = output
        let hwm = hwm
        let keyNames = keys <= 1 ? ["bench"] : (0..<keys).map { "k\($0)" }
        let interval = rate.map { UInt64(1e9 / $0) }

        // Counted in the consumer's own variables (no lock per message), handed over at join.
        let consumer = BenchThread("bench consumer") { () throws -> [Double] in
            var latencies: [Double] = []
            latencies.reserveCapacity(1 << 20)
            do {
                let socket = try ZMQSocket(context, .pull)
                try socket.setHighWaterMarks(receive: hwm)
                try socket.set(ZMQOption.receiveTimeout, 200)
                try socket.setLinger(milliseconds: 0)
                if direct { try socket.bind(output) } else { try socket.connect(output) }
                while !stop.load(ordering: .relaxed) {
                    guard let message = try socket.receiveMultipart(maxFrames: 3, dontWait: false), message.frames.count == 3 else { continue }
                    credits.signal()
                    let received = DispatchTime.now().uptimeNanoseconds
                    if measuring.load(ordering: .relaxed) {
                        let sentAt = message.frames[1].withUnsafeBytes { LoadDriver.sendTime(in: $0) }
                        counted.add(1, ordering: .relaxed)
                        if let sentAt { latencies.append(Double(received &- sentAt) / 1e6) }
                    }
                }
                socket.close(lingerMilliseconds: 0)
            } catch {
                throw BenchError("consumer: \(error)")
            }
            return latencies
        }
        let producer = BenchThread("bench producer") {
            do {
                let socket = try ZMQSocket(context, .push)
                try socket.setHighWaterMarks(send: hwm)
                try socket.set(ZMQOption.sendTimeout, 200)
                try socket.setLinger(milliseconds: 0)
                try socket.connect(input)
                let keyFrames = keyNames.map { Array($0.utf8) }
                var header = template.bytes
                var seq = 0
                let began = DispatchTime.now().uptimeNanoseconds
                while !stop.load(ordering: .relaxed) {
                    if let interval {
                        // Batch n leaves at began + n·interval; behind schedule it leaves at once.
                        let due = began &+ UInt64(seq) &* interval
                        let current = DispatchTime.now().uptimeNanoseconds
                        if due > current + 20_000 {
                            usleep(UInt32(min(100_000, (due - current) / 1000)))
                            continue
                        }
                        while DispatchTime.now().uptimeNanoseconds < due {}
                    }
                    guard credits.wait(timeout: .now() + .milliseconds(200)) == .success else { continue }
                    LoadDriver.writeDigits(UInt64(seq), into: &header, at: template.seq)
                    LoadDriver.writeDigits(DispatchTime.now().uptimeNanoseconds, into: &header, at: template.time)
                    let frames = [try ZMQMessage(keyFrames[seq % keyFrames.count]), try ZMQMessage(header), try ZMQMessage(sending: payload.value)]
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
        let cpuAtStart = CPUTimes.read(pid: watched)
        let start = DispatchTime.now().uptimeNanoseconds
        var elapsed = 0.0
        while elapsed < duration {
            Thread.sleep(forTimeInterval: min(1, duration - elapsed))
            elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            tick(counted.load(ordering: .relaxed), elapsed)
        }
        measuring.store(false, ordering: .relaxed)
        let cpuAtEnd = CPUTimes.read(pid: watched)
        stop.store(true, ordering: .relaxed)
        // Both are joined before either failure is thrown, so no thread outlives the context.
        let produced = Swift.Result { try producer.join() }
        let consumed = Swift.Result { try consumer.join() }
        try produced.get()
        let latencies = try consumed.get()
        let batches = counted.load(ordering: .relaxed)
        var cpu: CPUTimes.Use?
        if let cpuAtStart, let cpuAtEnd { cpu = CPUTimes.use(from: cpuAtStart, to: cpuAtEnd) }
        return Result(batches: batches, bytes: batches * payload.value.count, seconds: elapsed, latenciesMs: latencies, cpu: cpu)
    }

    /// The send time the producer wrote into the header (the 19 digits after `"t":`), in ns.
    static func sendTime(in header: UnsafeRawBufferPointer) -> UInt64? {
        let marker = Array(#""t":"#.utf8)
        guard header.count >= marker.count + 19 else { return nil }
        for start in 0...(header.count - marker.count - 19) where header[start] == marker[0] {
            guard (0..<marker.count).allSatisfy({ header[start + $0] == marker[$0] }) else { continue }
            var value: UInt64 = 0
            for i in 0..<19 {
                let digit = header[start + marker.count + i] &- UInt8(ascii: "0")
                guard digit < 10 else { return nil }
                value = value * 10 + UInt64(digit)
            }
            return value &- fixedWidthBase
        }
        return nil
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
