import Foundation
import NormDaemon

/// Medians and spreads of repeated timings, as docs/benchmarks.md asks figures to be quoted.
public struct Sample: Sendable {
    public var values: [Double] = []
    public init() {}
    public init(values: [Double]) { self.values = values }

    public mutating func add(_ value: Double) { values.append(value) }
    public var isEmpty: Bool { values.isEmpty }
    public var median: Double {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return .nan }
        return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }
    public var min: Double { values.min() ?? .nan }
    public var max: Double { values.max() ?? .nan }
}

/// Monotonic seconds.
func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

func format(_ value: Double, _ digits: Int = 2) -> String { String(format: "%.\(digits)f", value) }

/// Progress on stderr, rewritten in place on a terminal.
func progress(_ text: String) {
    let line = isatty(STDERR_FILENO) != 0 ? "\r\u{1B}[2K\(text)" : "\(text)\n"
    FileHandle.standardError.write(Data(line.utf8))
}

func endProgress() {
    if isatty(STDERR_FILENO) != 0 { FileHandle.standardError.write(Data("\r\u{1B}[2K".utf8)) }
}

/// Polls `isReady` every 20 ms until it holds (true), `process` exits, or `seconds` pass (false).
func waitUntilReady(_ process: Process, seconds: Double, isReady: () -> Bool) -> Bool {
    let deadline = MonotonicClock.deadline(after: seconds)
    while MonotonicClock.nanoseconds() < deadline {
        if isReady() { return true }
        guard process.isRunning else { return false }
        usleep(20_000)
    }
    return false
}

/// The `[daemon]` table of a benchmarked daemon: its socket and state in `directory`, quiet, no
/// periodic checkpoints.
func benchDaemonTable(_ directory: URL) -> String {
    """
    [daemon]
    control_socket = "\(directory.path)/ctl.sock"
    state_dir = "\(directory.path)/state"
    log_level = "warning"
    checkpoint_interval_s = 3600
    """
}
