import CNats

/// A JetStream key-value bucket, written with compare-and-set on the key's revision. Owns
/// libnats's `kvStore`.
///
/// `@unchecked Sendable`: a `kvStore` is read-only after creation and works through the
/// thread-safe connection; this class holds the pointer, set once.
public final class KeyValueBucket: @unchecked Sendable {
    let raw: OpaquePointer
    /// Keeps the context (and its connection) alive as long as the bucket.
    let jetStream: JetStream
    public let name: String

    init(raw: OpaquePointer, jetStream: JetStream, name: String) {
        self.raw = raw
        self.jetStream = jetStream
        self.name = name
    }

    deinit { kvStore_Destroy(raw) }

    public struct Entry: Sendable, Equatable {
        public let value: [UInt8]
        public let revision: UInt64
    }

    /// The key's value and revision, nil when the bucket does not have it.
    public func get(_ key: String) throws(NATSError) -> Entry? {
        var entry: OpaquePointer?
        let status = kvStore_Get(&entry, raw, key)
        if status == NATS_NOT_FOUND { return nil }
        guard status == NATS_OK, let entry else { throw NATSRaw.error(status, "reading \(key) from \(name)") }
        defer { kvEntry_Destroy(entry) }
        let count = Int(kvEntry_ValueLen(entry))
        let value: [UInt8] =
            count > 0 ? kvEntry_Value(entry).map { Array(UnsafeRawBufferPointer(start: $0, count: count)) } ?? [] : []
        return Entry(value: value, revision: kvEntry_Revision(entry))
    }

    /// Writes `value` if the key's revision is still `revision` (0: if the key does not exist)
    /// and returns the new revision; throws an error whose `isWrongRevision` is true when
    /// somebody else wrote the key since.
    public func put(_ key: String, _ value: [UInt8], ifRevision revision: UInt64) throws(NATSError) -> UInt64 {
        if revision == 0 {
            // Published here rather than by libnats's create, whose error, once it has looked for
            // a deleted key's marker, no longer says why: a full bucket (`isStreamFull`) must be
            // told from a key written meanwhile.
            do {
                let subject = "$KV.\(name).\(key)"
                return try jetStream.publish(NATSMessage(subject: subject, headers: ["Nats-Expected-Last-Subject-Sequence": "0"], body: value)).sequence
            } catch {
                guard error.isWrongRevision else {
                    throw NATSError(status: error.status, message: error.message, context: "writing \(key) to \(name) at revision 0", jetStreamCode: error.jetStreamCode)
                }
                // The subject has a message: a key written meanwhile, or a deleted key's marker,
                // which libnats's create writes over.
            }
        }
        var newRevision: UInt64 = 0
        let status = value.withUnsafeBytes { bytes in
            revision == 0
                ? kvStore_Create(&newRevision, raw, key, bytes.baseAddress, Int32(bytes.count))
                : kvStore_Update(&newRevision, raw, key, bytes.baseAddress, Int32(bytes.count), revision)
        }
        guard status == NATS_OK else {
            var error = NATSRaw.error(status, "writing \(key) to \(name) at revision \(revision)")
            // libnats reports the refused compare-and-set as text only.
            if error.message.contains("wrong last sequence") || error.message.contains("key exists") {
                error = NATSError(status: error.status, message: error.message, context: error.context, jetStreamCode: NATSError.wrongLastSequence)
            }
            throw error
        }
        return newRevision
    }

    /// Writes `value` whatever the key's revision, and returns the new revision.
    @discardableResult
    public func put(_ key: String, _ value: [UInt8]) throws(NATSError) -> UInt64 {
        var revision: UInt64 = 0
        let status = value.withUnsafeBytes { kvStore_Put(&revision, raw, key, $0.baseAddress, Int32($0.count)) }
        guard status == NATS_OK else { throw NATSRaw.error(status, "writing \(key) to \(name)") }
        return revision
    }

    /// The bucket's keys (none: an empty list).
    public func keys() throws(NATSError) -> [String] {
        var list = kvKeysList()
        let status = kvStore_Keys(&list, raw, nil)
        if status == NATS_NOT_FOUND { return [] }
        guard status == NATS_OK else { throw NATSRaw.error(status, "listing the keys of \(name)") }
        defer { kvKeysList_Destroy(&list) }
        return (0..<Int(list.Count)).compactMap { list.Keys[$0].map { String(cString: $0) } }
    }
}
