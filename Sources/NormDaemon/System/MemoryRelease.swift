import Foundation

/// Gives freed heap memory back to the system after a large reply. glibc raises its mmap
/// threshold after the first large free, so later large replies are built in the heap, and
/// freed heap pages stay resident until `malloc_trim` returns them (per thread arena, too).
/// Looked up at run time: Swift's Glibc module does not export `malloc.h`.
enum MemoryRelease {
    /// Replies at least this large are followed by a trim.
    static let threshold = 4 << 20

    private typealias Trim = @convention(c) (Int) -> Int32
    private static let trim: Trim? = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim").map { unsafeBitCast($0, to: Trim.self) }

    static func afterReply(ofSize bytes: Int) {
        guard bytes >= threshold, let trim else { return }
        _ = trim(0)
    }
}
