import Foundation

/// CPU time from /proc, read when a measured window opens and when it closes: how busy the whole
/// machine was, and how much CPU the target's process spent on each batch. A target that leaves
/// the machine idle while it is slower than another is waiting on something (a stage, the memory
/// bus), not short of cores.
struct CPUTimes: Sendable, Equatable {
    /// Jiffies of all CPUs, busy and in all (the first line of /proc/stat).
    var machineBusy: UInt64
    var machineTotal: UInt64
    /// The process's user + system jiffies; nil without a process or when it cannot be read.
    var process: UInt64?

    /// What a window used.
    struct Use: Sendable, Equatable {
        /// Busy share of all CPUs, 0…1.
        var machineBusy: Double
        /// CPU seconds of the process, when it was watched.
        var processSeconds: Double?
    }

    /// Now, for the process `pid` (or the machine alone); nil off Linux or when /proc is unreadable.
    static func read(pid: Int32?) -> CPUTimes? {
        guard let stat = try? String(contentsOfFile: "/proc/stat", encoding: .utf8), let machine = machineTicks(stat) else { return nil }
        let process = pid.flatMap { try? String(contentsOfFile: "/proc/\($0)/stat", encoding: .utf8) }.flatMap(processTicks)
        return CPUTimes(machineBusy: machine.busy, machineTotal: machine.total, process: process)
    }

    /// Between `start` and `end`; nil for a window too short to have seen a tick.
    static func use(from start: CPUTimes, to end: CPUTimes, ticksPerSecond: Double = Double(sysconf(Int32(_SC_CLK_TCK)))) -> Use? {
        guard end.machineTotal > start.machineTotal, end.machineBusy >= start.machineBusy else { return nil }
        let busy = Double(end.machineBusy - start.machineBusy) / Double(end.machineTotal - start.machineTotal)
        var seconds: Double?
        if let before = start.process, let after = end.process, after >= before { seconds = Double(after - before) / ticksPerSecond }
        return Use(machineBusy: busy, processSeconds: seconds)
    }

    /// Busy and total jiffies from /proc/stat's aggregate `cpu` line: user, nice, system, idle,
    /// iowait, irq, softirq, steal (guest time is already in user). Idle and iowait are not busy.
    static func machineTicks(_ stat: String) -> (busy: UInt64, total: UInt64)? {
        guard let line = stat.split(separator: "\n").first(where: { $0.hasPrefix("cpu ") }) else { return nil }
        let fields = line.split(separator: " ").dropFirst().compactMap { UInt64($0) }
        guard fields.count >= 8 else { return nil }
        let idle = fields[3] + fields[4]
        let busy = fields[0] + fields[1] + fields[2] + fields[5] + fields[6] + fields[7]
        return (busy, busy + idle)
    }

    /// utime + stime from a /proc/PID/stat line. The command name, in parentheses, may itself
    /// hold spaces and parentheses, so the fields are counted from the last `)`: utime and stime
    /// are the 12th and 13th after it (fields 14 and 15 of the line).
    static func processTicks(_ stat: String) -> UInt64? {
        guard let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count >= 13, let user = UInt64(fields[11]), let system = UInt64(fields[12]) else { return nil }
        return user + system
    }
}
