import Glibc

/// The soft descriptor limit raised to the hard one at start. The soft limit stays at 1024 by
/// default only for programs that use `select(2)`; systemd asks services that do not to raise
/// it themselves, as Go's runtime does for every program. normd waits with epoll and poll (as
/// libzmq and SwiftNIO do), and its producers, consumers, dashboards and idle peers each hold a
/// descriptor. The hard limit is the operator's (`LimitNOFILE=` in the unit, `ulimit -Hn`).
enum DescriptorLimit {
    /// The soft and hard limits now.
    static func current() -> (soft: UInt64, hard: UInt64)? {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return nil }
        return (UInt64(limit.rlim_cur), UInt64(limit.rlim_max))
    }

    /// The soft limit, what the process may open (1024 when it cannot be read or is infinite).
    static var soft: Int {
        guard let soft = current()?.soft, soft != UInt64(rlim_t.max) else { return 1024 }
        return Int(clamping: soft)
    }

    /// Raises the soft limit to the hard one; the soft limit before and after, or nil when it
    /// already was the hard one or the kernel refused.
    @discardableResult
    static func raise() -> (before: UInt64, after: UInt64)? {
        guard let (soft, hard) = current(), soft < hard else { return nil }
        var limit = rlimit(rlim_cur: rlim_t(hard), rlim_max: rlim_t(hard))
        guard setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return nil }
        return (soft, hard)
    }
}
