import Foundation

/// glibc malloc's two thresholds, fixed at the values its own adaptive policy reaches for the
/// largest batches it adapts to, so a received batch lands in memory the heap already holds.
///
/// libzmq allocates each received message with `malloc` on its I/O thread, and frees it there
/// once the message is sent on. glibc adapts: after the first large free it serves blocks of
/// that size from the thread's heap and trims the heap's top once more than twice that size is
/// free there. At 8 MiB glibc trimmed normd's I/O thread heap — `madvise(MADV_DONTNEED)` about
/// once every 25 batches, most likely because normd holds more batches at once than a forwarder
/// (one being normalized, others queued on both sides) — and libzmq's next receives wrote into
/// pages the kernel had to fault in and zero again — 73k–140k page faults in 3 s against none
/// for zmq_proxy moving the same messages, and 8% of the I/O thread's samples in fault handling
/// and page clearing.
///
/// Fixed thresholds keep blocks up to 32 MiB in the heap and trim only past 64 MiB free at a
/// heap's top (glibc's own ceilings for its adaptive values), so resident memory stays near its
/// peak rather than following every burst; `MemoryRelease` still trims after large control
/// replies. An operator's own setting (`GLIBC_TUNABLES=glibc.malloc.…` or `MALLOC_*_`) wins.
enum AllocatorSettings {
    /// Blocks up to this size come from the heap, not from a mapping of their own.
    static let mmapThreshold: Int32 = 32 << 20
    /// A heap gives memory back once this much is free at its top.
    static let trimThreshold: Int32 = 64 << 20

    /// Whether the environment already sets either threshold (then it is left as set).
    static func operatorSetsThresholds(_ environment: [String: String]) -> Bool {
        if environment["MALLOC_TRIM_THRESHOLD_"] != nil || environment["MALLOC_MMAP_THRESHOLD_"] != nil { return true }
        let tunables = environment["GLIBC_TUNABLES"] ?? ""
        return tunables.contains("glibc.malloc.trim_threshold") || tunables.contains("glibc.malloc.mmap_threshold")
    }

    /// Sets both thresholds unless the environment does; returns whether it set them.
    @discardableResult
    static func apply(environment: [String: String] = ProcessInfo.processInfo.environment) -> Bool {
        guard !operatorSetsThresholds(environment) else { return false }
        // glibc takes both (32 MiB is its largest mmap threshold); a sanitizer's allocator answers
        // mallopt without acting on it, and then neither is set.
        let mmap = GlibcMalloc.set(GlibcMalloc.mmapThresholdParameter, to: mmapThreshold)
        let trim = GlibcMalloc.set(GlibcMalloc.trimThresholdParameter, to: trimThreshold)
        return mmap && trim
    }
}
