/// Gives freed heap memory back to the system after a large reply. glibc raises its mmap
/// threshold after the first large free (and `AllocatorSettings` fixes it at 32 MiB), so large
/// replies are built in the heap, and freed heap pages stay resident until `malloc_trim`
/// returns them (per thread arena, too).
enum MemoryRelease {
    /// Replies at least this large are followed by a trim.
    static let threshold = 4 << 20

    static func afterReply(ofSize bytes: Int) {
        guard bytes >= threshold else { return }
        GlibcMalloc.trim()
    }
}
