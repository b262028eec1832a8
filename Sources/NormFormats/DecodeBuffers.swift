/// The arrays a decoded header's bytes and shape are written into, kept by the caller from one
/// message to the next. A batch done before the next message arrives has let go of them by
/// then, and the next decode writes into the same storage (no allocation); while a batch still
/// holds them (on a lane), the next decode makes arrays of its own, as every decode did before.
/// At 64 B these two arrays were two of the four allocations left per message.
public struct DecodeBuffers: Sendable {
    var header: [UInt8] = []
    var shape: [Int] = []

    public init() {}

    /// Headers up to this size are kept for the next message; a longer one (a header frame may
    /// be as long as `max_message_bytes`) gets an array of its own, so one large header from a
    /// peer does not stay allocated for the daemon's life. Common headers are under 200 bytes.
    static let keptHeaderBytes = 4096

    /// `bytes` copied into the header array, into its own storage when nothing else holds it.
    mutating func header(copying bytes: UnsafeRawBufferPointer) -> [UInt8] {
        guard bytes.count <= Self.keptHeaderBytes else { return Array(bytes) }
        header.removeAll(keepingCapacity: true)
        header.append(contentsOf: bytes)
        return header
    }
}
