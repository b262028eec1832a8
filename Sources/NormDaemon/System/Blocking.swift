import Dispatch

/// Blocking work (joins, fsync, a reload) runs on a Dispatch thread, not on the cooperative pool.
enum Blocking {
    static func run<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(returning: body()) }
        }
    }
}
