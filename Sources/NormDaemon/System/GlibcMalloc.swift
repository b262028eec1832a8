import Foundation

/// glibc malloc's tuning entry points, looked up at run time (Swift's Glibc module does not
/// export `malloc.h`); where the C library lacks one, calling it does nothing and says so. The
/// one place normd calls them from.
enum GlibcMalloc {
    /// `mallopt`'s parameters (malloc.h).
    static let trimThresholdParameter: Int32 = -1, mmapThresholdParameter: Int32 = -3

    private typealias Trim = @convention(c) (Int) -> Int32
    private typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
    private static let trimFunction: Trim? = symbol("malloc_trim").map { unsafeBitCast($0, to: Trim.self) }
    private static let malloptFunction: Mallopt? = symbol("mallopt").map { unsafeBitCast($0, to: Mallopt.self) }

    private static func symbol(_ name: String) -> UnsafeMutableRawPointer? {
        dlsym(UnsafeMutableRawPointer(bitPattern: 0), name)
    }

    /// `malloc_trim(0)`: gives free heap memory back, in every arena; true when some was
    /// (false, too, without `malloc_trim`).
    @discardableResult
    static func trim() -> Bool {
        guard let trimFunction else { return false }
        return trimFunction(0) == 1
    }

    /// `mallopt(parameter, value)`: true when glibc took the value (it returns 1); false
    /// without `mallopt`.
    static func set(_ parameter: Int32, to value: Int32) -> Bool {
        malloptFunction?(parameter, value) == 1
    }
}
