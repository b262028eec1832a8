import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// `Synchronization.Mutex` that ThreadSanitizer can follow.
///
/// On Linux a contended `Mutex` is handed from one thread to the next inside the kernel (a
/// priority-inheriting futex): no user-space atomic marks the hand-over, so ThreadSanitizer
/// sees no happens-before edge and reports races on data the lock does protect. Each critical
/// section here is bracketed by `__tsan_acquire`/`__tsan_release` when the ThreadSanitizer
/// runtime is in the process (looked up once at run time); otherwise this is exactly `Mutex`.
///
/// `withLock` is inlinable so each caller's module specializes it for its value: called through
/// the generic entry point, every critical section looked up type metadata at run time (measured
/// on the message path: a visible share of the per-message time at small batches).
public struct ObservedMutex<Value: ~Copyable>: ~Copyable, Sendable {
    @usableFromInline let mutex: Mutex<Value>
    /// Its address names this lock to ThreadSanitizer; the value is not touched before the acquire.
    @usableFromInline let token = Token()

    public init(_ value: consuming sending Value) {
        mutex = Mutex(value)
    }

    @inlinable
    public borrowing func withLock<Result: ~Copyable, E: Error>(
        _ body: (inout sending Value) throws(E) -> sending Result
    ) throws(E) -> sending Result {
        let address = Unmanaged.passUnretained(token).toOpaque()
        return try mutex.withLock { (value: inout sending Value) throws(E) -> sending Result in
            guard let annotations = ThreadSanitizerAnnotations.shared else { return try body(&value) }
            annotations.acquire(address)
            defer { annotations.release(address) }
            return try body(&value)
        }
    }

    @usableFromInline final class Token: Sendable {}
}

/// The ThreadSanitizer runtime's annotation entry points, if it is loaded.
@usableFromInline
struct ThreadSanitizerAnnotations: Sendable {
    @usableFromInline typealias Annotation = @convention(c) (UnsafeMutableRawPointer?) -> Void
    @usableFromInline let acquire: Annotation
    @usableFromInline let release: Annotation

    @usableFromInline static let shared: ThreadSanitizerAnnotations? = {
        // RTLD_DEFAULT: search the whole process, where the sanitizer runtime is linked in.
        guard let acquire = dlsym(nil, "__tsan_acquire"), let release = dlsym(nil, "__tsan_release") else { return nil }
        return ThreadSanitizerAnnotations(
            acquire: unsafeBitCast(acquire, to: Annotation.self),
            release: unsafeBitCast(release, to: Annotation.self))
    }()
}
