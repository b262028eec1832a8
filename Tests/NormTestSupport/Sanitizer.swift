import Glibc

/// Whether this build runs under a sanitizer (CI's TSan and ASan steps). The daemon a test
/// starts comes from the same build, so this answers for it too. A sanitizer's allocator ignores
/// `mallopt` and keeps freed memory, and its interceptors do not mix with an `LD_PRELOAD`, so a
/// few tests leave those checks to the plain build.
public enum Sanitizer {
    public static let isActive = ["__asan_init", "__tsan_init"].contains { (name: String) in
        dlsym(UnsafeMutableRawPointer(bitPattern: 0), name) != nil
    }
}
