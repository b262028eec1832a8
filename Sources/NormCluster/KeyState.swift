import NormCore

/// A key's state of record in the bucket: its running statistics, the last input stream
/// sequence applied to them and which stream that sequence is of. Stored as little-endian binary
/// so every bit round-trips.
public struct KeyState: Sendable, Equatable {
    public var statistics: RunningStatistics?
    public var lastApplied: UInt64
    /// The input stream `lastApplied` numbers a message of: its name and creation time
    /// (`JetStreamTopology.ensure`). A stream made anew numbers from 1 again, so a sequence of
    /// another stream says nothing about this one. Nil in a state written before it was kept.
    public var stream: String?

    public init(statistics: RunningStatistics?, lastApplied: UInt64, stream: String? = nil) {
        self.statistics = statistics
        self.lastApplied = lastApplied
        self.stream = stream
    }

    /// "NDK2": magic, last applied (u64), the stream's identity (u32 length, UTF-8; 0: none),
    /// channels (u32; all ones: no statistics), batches tracked (i64), means, variances (f64).
    /// "NDK1", written by earlier builds, has no stream identity.
    static let magic: [UInt8] = Array("NDK2".utf8)
    static let magicWithoutStream: [UInt8] = Array("NDK1".utf8)

    public var encoded: [UInt8] {
        var bytes = Self.magic
        func append<T: FixedWidthInteger>(_ value: T) { withUnsafeBytes(of: value.littleEndian) { bytes += $0 } }
        append(lastApplied)
        let identity = Array((stream ?? "").utf8)
        append(UInt32(identity.count))
        bytes += identity
        guard let statistics else {
            append(UInt32.max)
            return bytes
        }
        append(UInt32(statistics.mean.count))
        append(statistics.batchesTracked)
        for value in statistics.mean + statistics.variance { append(value.bitPattern) }
        return bytes
    }

    public init(decoding bytes: [UInt8]) throws(ClusterError) {
        var offset = 0
        func read<T: FixedWidthInteger>(_: T.Type) throws(ClusterError) -> T {
            guard offset + MemoryLayout<T>.size <= bytes.count else { throw ClusterError(.state, "a key's state is cut short (\(bytes.count) bytes)") }
            var value = T.zero
            withUnsafeMutableBytes(of: &value) { $0.copyBytes(from: bytes[offset..<(offset + MemoryLayout<T>.size)]) }
            offset += MemoryLayout<T>.size
            return T(littleEndian: value)
        }
        let hasStream = bytes.starts(with: Self.magic)
        guard hasStream || bytes.starts(with: Self.magicWithoutStream) else { throw ClusterError(.state, "a key's state does not start with NDK2 or NDK1") }
        offset = 4
        lastApplied = try read(UInt64.self)
        stream = nil
        if hasStream {
            let length = Int(try read(UInt32.self))
            guard length <= 4096, offset + length <= bytes.count else { throw ClusterError(.state, "a key's state claims a \(length)-byte stream name") }
            stream = length == 0 ? nil : String(decoding: bytes[offset..<(offset + length)], as: UTF8.self)
            offset += length
        }
        let channels = try read(UInt32.self)
        guard channels != .max else {
            statistics = nil
            return
        }
        guard channels <= 1 << 20 else { throw ClusterError(.state, "a key's state claims \(channels) channels") }
        let batches = try read(Int64.self)
        var values: [Double] = []
        for _ in 0..<(2 * Int(channels)) { values.append(Double(bitPattern: try read(UInt64.self))) }
        guard offset == bytes.count else { throw ClusterError(.state, "a key's state has \(bytes.count - offset) bytes too many") }
        let statistics = RunningStatistics(mean: Array(values[..<Int(channels)]), variance: Array(values[Int(channels)...]), batchesTracked: batches)
        // Well formed but not statistics (another tool's NaN, a negative variance or count): as
        // unreadable as a cut entry, or every batch of the key would be refused as non-finite.
        if let problem = statistics.problem { throw ClusterError(.state, "a key's state holds values that cannot be statistics: \(problem)") }
        self.statistics = statistics
    }

    /// The bucket key of a stream key: hex of its bytes (bucket keys allow fewer characters
    /// than subject tokens).
    public static func bucketKey(_ key: String) -> String {
        "k." + key.utf8.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
    }
}
