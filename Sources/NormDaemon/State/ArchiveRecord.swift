import NormCore

/// One record of the eviction archive, little-endian:
/// `length u32 | checksum u32 | key length u16 | key | channels u32 | num_batches_tracked i64 |
/// running_mean f64 × C | running_var f64 × C`; `channels = 0xFFFFFFFF` with nothing after it is a
/// tombstone (the key is back in memory). The checksum (FNV-1a over what follows it) tells a torn
/// or garbled record from a good one.
struct ArchiveRecord {
    let key: String
    /// nil for a tombstone.
    let statistics: RunningStatistics?
    let length: Int

    static let headerLength = 8
    static let tombstone: UInt32 = 0xFFFF_FFFF

    static func encode(key: String, statistics: RunningStatistics?) -> [UInt8] {
        var body: [UInt8] = []
        func put<T: FixedWidthInteger>(_ value: T) { withUnsafeBytes(of: value.littleEndian) { body += $0 } }
        let keyBytes = Array(key.utf8)
        put(UInt16(keyBytes.count))
        body += keyBytes
        if let statistics {
            put(UInt32(statistics.channels))
            put(statistics.batchesTracked)
            for value in statistics.mean + statistics.variance { put(value.bitPattern) }
        } else {
            put(tombstone)
        }
        var record: [UInt8] = []
        withUnsafeBytes(of: UInt32(headerLength + body.count).littleEndian) { record += $0 }
        withUnsafeBytes(of: checksum(body[...]).littleEndian) { record += $0 }
        return record + body
    }

    /// The whole record's length from its first 8 bytes, or nil if they cannot start one.
    static func length(header: [UInt8]) -> Int? {
        guard header.count >= headerLength else { return nil }
        let length = Int(UInt32(header[0]) | UInt32(header[1]) << 8 | UInt32(header[2]) << 16 | UInt32(header[3]) << 24)
        return length >= headerLength + 6 ? length : nil
    }

    /// The record at `offset`, or nil when none is complete and intact there.
    static func decode(_ bytes: [UInt8], at offset: Int) -> ArchiveRecord? {
        guard offset + headerLength <= bytes.count, let length = length(header: Array(bytes[offset..<(offset + headerLength)])),
            offset + length <= bytes.count
        else { return nil }
        let body = bytes[(offset + headerLength)..<(offset + length)]
        var cursor = body.startIndex
        func take<T: FixedWidthInteger>(_: T.Type) -> T? {
            guard cursor + MemoryLayout<T>.size <= body.endIndex else { return nil }
            var value: T = 0
            for i in 0..<MemoryLayout<T>.size { value |= T(truncatingIfNeeded: body[cursor + i]) << (8 * i) }
            cursor += MemoryLayout<T>.size
            return value
        }
        guard
            let stored = Optional(
                UInt32(bytes[offset + 4]) | UInt32(bytes[offset + 5]) << 8 | UInt32(bytes[offset + 6]) << 16 | UInt32(bytes[offset + 7]) << 24),
            stored == checksum(body), let keyLength = take(UInt16.self), cursor + Int(keyLength) <= body.endIndex
        else { return nil }
        let key = String(decoding: body[cursor..<(cursor + Int(keyLength))], as: UTF8.self)
        cursor += Int(keyLength)
        guard let channels = take(UInt32.self) else { return nil }
        if channels == tombstone { return ArchiveRecord(key: key, statistics: nil, length: length) }
        guard let tracked = take(Int64.self) else { return nil }
        var values: [Double] = []
        for _ in 0..<(2 * Int(channels)) {
            guard let bits = take(UInt64.self) else { return nil }
            values.append(Double(bitPattern: bits))
        }
        let statistics = RunningStatistics(mean: Array(values[..<Int(channels)]), variance: Array(values[Int(channels)...]), batchesTracked: tracked)
        guard statistics.problem == nil else { return nil }
        return ArchiveRecord(key: key, statistics: statistics, length: length)
    }

    static func checksum(_ bytes: ArraySlice<UInt8>) -> UInt32 {
        var hash: UInt32 = 0x811c_9dc5
        for byte in bytes { hash = (hash ^ UInt32(byte)) &* 0x0100_0193 }
        return hash
    }
}
