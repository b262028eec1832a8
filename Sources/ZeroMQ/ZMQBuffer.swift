import Locking
import Synchronization

/// A 64-byte aligned byte buffer for zero-copy sends. When the last reference goes (after
/// libzmq has sent it), it returns to the pool it came from, so steady traffic reuses pages
/// instead of faulting in fresh ones for every batch.
///
/// `@unchecked Sendable`: its bytes are written by one owner before it is handed to libzmq,
/// and only read afterwards; the pool it returns to is behind a Mutex.
public final class ZMQBuffer: @unchecked Sendable {
    public let bytes: UnsafeMutableRawPointer
    public let count: Int
    let capacity: Int
    let pool: ZMQBufferPool?

    init(bytes: UnsafeMutableRawPointer?, capacity: Int, count: Int, pool: ZMQBufferPool?) {
        self.capacity = capacity
        self.count = count
        self.bytes = bytes ?? .allocate(byteCount: max(capacity, 1), alignment: 64)
        self.pool = pool
    }

    /// A standalone buffer that is freed, not pooled.
    public convenience init(count: Int) {
        self.init(bytes: nil, capacity: count, count: count, pool: nil)
    }

    public var buffer: UnsafeMutableRawBufferPointer { UnsafeMutableRawBufferPointer(start: bytes, count: count) }

    deinit {
        if let pool, pool.adopt(bytes: bytes, capacity: capacity) { return }
        bytes.deallocate()
    }
}

/// Keeps a few freed buffers for reuse, bounded in count so memory stays flat.
public final class ZMQBufferPool: Sendable {
    private let free = ObservedMutex<[(bytes: UncheckedPointer, capacity: Int)]>([])
    public let limit: Int

    public init(limit: Int = 8) { self.limit = limit }

    /// A buffer of `count` bytes, reused when a freed one is large enough.
    public func buffer(count: Int) -> ZMQBuffer {
        let reused: (bytes: UncheckedPointer, capacity: Int)? = free.withLock { list in
            guard let index = list.firstIndex(where: { $0.capacity >= count && $0.capacity <= count * 2 }) else { return nil }
            return list.remove(at: index)
        }
        return ZMQBuffer(bytes: reused?.bytes.pointer, capacity: reused?.capacity ?? count, count: count, pool: self)
    }

    fileprivate func adopt(bytes: UnsafeMutableRawPointer, capacity: Int) -> Bool {
        free.withLock { list in
            guard list.count < limit else { return false }
            list.append((UncheckedPointer(pointer: bytes), capacity))
            return true
        }
    }

    deinit {
        free.withLock { list in
            for parked in list { parked.bytes.pointer.deallocate() }
        }
    }
}

/// A freed buffer's address parked in the pool; nobody else holds it.
struct UncheckedPointer: @unchecked Sendable {
    let pointer: UnsafeMutableRawPointer
}
