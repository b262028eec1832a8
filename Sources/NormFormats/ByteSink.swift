/// Where a header's bytes go as it is written: counted first, then written into a frame of
/// exactly that size, so the frame is made without building the bytes anywhere else (an array
/// per message was a malloc on the pipeline thread for every batch).
protocol ByteSink {
    mutating func put(_ byte: UInt8)
    mutating func put(_ bytes: UnsafeRawBufferPointer)
}

extension ByteSink {
    mutating func put(_ text: StaticString) {
        put(UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    mutating func put(_ text: String) {
        var text = text
        text.withUTF8 { put(UnsafeRawBufferPointer($0)) }
    }

    /// `value` in decimal, as `String(value)` writes it, without making the string.
    mutating func putDecimal(_ value: Int64) {
        if value < 0 { put(UInt8(ascii: "-")) }
        // Most significant digit first, so nothing is reversed.
        let magnitude = value.magnitude
        var divisor: UInt64 = 1
        while divisor <= magnitude / 10 { divisor *= 10 }
        repeat {
            put(UInt8(ascii: "0") + UInt8(magnitude / divisor % 10))
            divisor /= 10
        } while divisor > 0
    }
}

/// Counts what would be written.
struct ByteCounter: ByteSink {
    private(set) var count = 0

    mutating func put(_ byte: UInt8) { count += 1 }
    mutating func put(_ bytes: UnsafeRawBufferPointer) { count += bytes.count }
}

/// Writes into memory of a size counted before; writing past its end stops the process (the
/// two passes disagreed, which is a bug, not input).
struct ByteWriter: ByteSink {
    let buffer: UnsafeMutableRawBufferPointer
    private(set) var written = 0

    init(_ buffer: UnsafeMutableRawBufferPointer) { self.buffer = buffer }

    mutating func put(_ byte: UInt8) {
        precondition(written < buffer.count, "header larger than counted")
        buffer[written] = byte
        written += 1
    }

    mutating func put(_ bytes: UnsafeRawBufferPointer) {
        guard !bytes.isEmpty else { return }
        precondition(written + bytes.count <= buffer.count, "header larger than counted")
        buffer.baseAddress!.advanced(by: written).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
        written += bytes.count
    }
}

extension [UInt8]: ByteSink {
    mutating func put(_ byte: UInt8) { append(byte) }
    mutating func put(_ bytes: UnsafeRawBufferPointer) { append(contentsOf: bytes) }
}
