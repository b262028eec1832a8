import Foundation

extension MetricsExposition {
    /// The build, the process (named as Prometheus client libraries name them) and the health of
    /// reloads and checkpoints: present from the first scrape on.
    static func renderDaemon(_ daemon: Daemon, into out: inout String) {
        func family(_ name: String, _ type: String, _ help: String, _ value: String, labels: String = "") {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n\(name)\(labels) \(value)\n"
        }
        let reloads = daemon.reloadHealth.withLock { $0 }
        let checkpoints = daemon.keeper.checkpointHealth
        let process = ProcessFigures.read()
        family("normd_build_info", "gauge", "normd's version; always 1.", "1", labels: "{version=\"\(BuildInfo.version)\"}")
        family("process_cpu_seconds_total", "counter", "User and system CPU time spent in seconds.", "\(process.cpuSeconds)")
        family("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", "\(process.residentBytes)")
        family("process_open_fds", "gauge", "Number of open file descriptors.", "\(process.openDescriptors)")
        family("process_max_fds", "gauge", "Maximum number of open file descriptors.", "\(process.maxDescriptors)")
        family("process_start_time_seconds", "gauge", "Start time of the process since the Unix epoch in seconds.", "\(daemon.startedAt.timeIntervalSince1970)")
        family("normd_config_last_reload_successful", "gauge", "Whether the last reload succeeded (1 at start).", reloads.lastSuccessful ? "1" : "0")
        family(
            "normd_config_last_reload_success_timestamp_seconds", "gauge", "When the configuration was last loaded successfully (start or reload).",
            "\(reloads.lastSuccess.timeIntervalSince1970)")
        family(
            "normd_checkpoint_last_success_timestamp_seconds", "gauge", "When the state was last written successfully; 0 before the first checkpoint.",
            "\(checkpoints.lastSuccess?.timeIntervalSince1970 ?? 0)")
        family("normd_checkpoint_failures_total", "counter", "Checkpoints that could not write the state.", "\(checkpoints.failures)")
    }
}

/// The process's own figures, from /proc.
struct ProcessFigures {
    var cpuSeconds = 0.0
    var residentBytes = 0
    var openDescriptors = 0
    var maxDescriptors = 0

    static func read() -> ProcessFigures {
        var figures = ProcessFigures()
        var usage = rusage()
        if getrusage(RUSAGE_SELF.rawValue, &usage) == 0 {
            figures.cpuSeconds =
                Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
                + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
        }
        if let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) {
            let pages = statm.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
            figures.residentBytes = pages * Int(sysconf(Int32(_SC_PAGESIZE)))
        }
        figures.openDescriptors = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? 0
        figures.maxDescriptors = DescriptorLimit.soft
        return figures
    }
}
