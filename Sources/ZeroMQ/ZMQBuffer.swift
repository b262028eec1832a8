import Locking
import Synchronization

/// A 64-byte aligned byte buffer for zero-copy sends. When libzmq is done with it and nothing
/// else holds it, it goes back to the pool it came from whole — object and bytes — so steady
/// traffic neither faults in fresh pages for every batch nor makes and frees an object per
/// message on two threads. A buffer let go any other way returns only its bytes.
///
/// `@unchecked Sendable`: its bytes are written by one owner before it is handed to libzmq,
/// and only read afterwards; `count` changes only while the pool holds the buffer alone, under
/// the pool's Mutex.
public final class ZMQBuffer: @unchecked Sendable {
    public let bytes: UnsafeMutableRawPointer
    public fileprivate(set) var count: Int
    let capacity: Int
    /// The pool it returns to; nil while it is parked in that pool (a parked buffer holding its
    /// pool would keep the pool alive forever) and for a standalone buffer. Behind a lock of its
    /// own: libzmq's I/O thread reads it when it lets go of the buffer, and the hand-off from the
    /// thread that filled the buffer runs through libzmq's queues, which the thread sanitizer
    /// cannot see; this lock is what orders that thread's writes before the I/O thread's reads
    /// (an `ObservedMutex`, so the order holds for the sanitizer when the lock is contended too).
    private let home: ObservedMutex<ZMQBufferPool?>

    init(bytes: UnsafeMutableRawPointer?, capacity: Int, count: Int, pool: ZMQBufferPool?) {
        self.capacity = capacity
        self.count = count
        self.bytes = bytes ?? .allocate(byteCount: max(capacity, 1), alignment: 64)
        home = ObservedMutex(nil)
        // Set under the lock, after every other field: whoever reads it under the lock sees them.
        self.pool = pool
    }

    fileprivate(set) var pool: ZMQBufferPool? {
        get { home.withLock { $0 } }
        set { home.withLock { $0 = newValue } }
    }

    /// A standalone buffer that is freed, not pooled.
    public convenience init(count: Int) {
        self.init(bytes: nil, capacity: count, count: count, pool: nil)
    }

    public var buffer: UnsafeMutableRawBufferPointer { UnsafeMutableRawBufferPointer(start: bytes, count: count) }

    /// libzmq lets go of the buffer whose retained reference `hint` is (on its I/O thread,
    /// after the send): back to the pool whole when that was the last reference.
    static func released(_ hint: UnsafeMutableRawPointer) {
        var buffer = Unmanaged<ZMQBuffer>.fromOpaque(hint).takeRetainedValue()
        guard isKnownUniquelyReferenced(&buffer), let pool = buffer.pool else { return }
        pool.park(buffer)
    }

    deinit {
        if let pool, pool.adopt(bytes: bytes, capacity: capacity) { return }
        bytes.deallocate()
    }
}

/// Keeps a few freed buffers for reuse, bounded in count so memory stays flat: whole buffers
/// that libzmq released, and the bytes of buffers let go otherwise.
public final class ZMQBufferPool: Sendable {
    private struct Parked {
        var buffers: [ZMQBuffer] = []
        var bytes: [(bytes: UncheckedPointer, capacity: Int)] = []
        /// The capacity of everything parked.
        var total = 0
        var count: Int { buffers.count + bytes.count }
    }

    private let free = ObservedMutex(Parked())
    /// At most this many parked buffers of any size…
    public let limit: Int
    /// …and up to `smallLimit` in all, of at most `smallTotal` bytes, when the one parked is at
    /// most `smallBytes`: small batches leave in bursts of many, which a pool of `limit` would
    /// mostly make and free anew (with 128 batches of 64 B in flight, a pool of 64 still made a
    /// new buffer for one message in three).
    public let smallLimit: Int
    public let smallBytes: Int
    public let smallTotal: Int

    public init(limit: Int = 8, smallLimit: Int = 256, smallBytes: Int = 65_536, smallTotal: Int = 4 << 20) {
        self.limit = limit
        self.smallLimit = max(limit, smallLimit)
        self.smallBytes = smallBytes
        self.smallTotal = smallTotal
    }

    private func hasRoom(_ parked: Parked, capacity: Int) -> Bool {
        parked.count < limit || (capacity <= smallBytes && parked.count < smallLimit && parked.total + capacity <= smallTotal)
    }

    /// What is parked for reuse (for tests): whole buffers, and bytes of buffers let go otherwise.
    public var parked: (whole: Int, bytesOnly: Int) { free.withLock { ($0.buffers.count, $0.bytes.count) } }

    /// A buffer of `count` bytes, reused when a freed one is large enough (and not more than
    /// twice as large).
    public func buffer(count: Int) -> ZMQBuffer {
        let fits = { (capacity: Int) in capacity >= count && capacity <= count * 2 }
        let (whole, bytes): (ZMQBuffer?, (bytes: UncheckedPointer, capacity: Int)?) = free.withLock { parked in
            // The most recently parked first: its bytes are the likeliest to be in cache.
            if let index = parked.buffers.lastIndex(where: { fits($0.capacity) }) {
                let buffer = parked.buffers.remove(at: index)
                parked.total -= buffer.capacity
                buffer.count = count
                buffer.pool = self
                return (buffer, nil)
            }
            guard let index = parked.bytes.lastIndex(where: { fits($0.capacity) }) else { return (nil, nil) }
            parked.total -= parked.bytes[index].capacity
            return (nil, parked.bytes.remove(at: index))
        }
        if let whole { return whole }
        return ZMQBuffer(bytes: bytes?.bytes.pointer, capacity: bytes?.capacity ?? count, count: count, pool: self)
    }

    /// Parks a buffer nothing else holds; when the pool is full it is let go (and freed).
    fileprivate func park(_ buffer: ZMQBuffer) {
        free.withLock { parked in
            guard hasRoom(parked, capacity: buffer.capacity) else { return }
            buffer.pool = nil
            parked.total += buffer.capacity
            parked.buffers.append(buffer)
        }
    }

    fileprivate func adopt(bytes: UnsafeMutableRawPointer, capacity: Int) -> Bool {
        free.withLock { parked in
            guard hasRoom(parked, capacity: capacity) else { return false }
            parked.total += capacity
            parked.bytes.append((UncheckedPointer(pointer: bytes), capacity))
            return true
        }
    }

    deinit {
        free.withLock { parked in
            for entry in parked.bytes { entry.bytes.pointer.deallocate() }
            parked.buffers.removeAll()
        }
    }
}

/// A freed buffer's address parked in the pool; nobody else holds it.
struct UncheckedPointer: @unchecked Sendable {
    let pointer: UnsafeMutableRawPointer
}
