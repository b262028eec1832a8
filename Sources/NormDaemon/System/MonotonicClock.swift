import Dispatch

/// The daemon's one clock for durations, deadlines and rates: monotonic nanoseconds since boot,
/// never stepped by NTP or an operator's `date -s` (the wall clock is only for timestamps shown
/// to people and Prometheus).
public enum MonotonicClock {
    public static func nanoseconds() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

    /// Nanoseconds from now after `seconds`.
    public static func deadline(after seconds: Double) -> UInt64 { nanoseconds() &+ UInt64(max(0, min(seconds, 1e9)) * 1e9) }
}
