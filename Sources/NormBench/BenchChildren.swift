import Dispatch
import Foundation
import Synchronization

/// The processes and folders a bench run makes (daemons, forwarders, python peers, their
/// folders). A run that is interrupted — Ctrl-C, `timeout`'s SIGTERM, a closed terminal — ends
/// its processes and removes its folders before it exits, so no daemon keeps running, bound to
/// sockets in a folder left behind, and holding the terminal's output open.
public enum BenchChildren {
    private struct Made {
        var processes: Set<Int32> = []
        var folders: Set<String> = []
        /// Set by a signal: from then on nothing is started or made, so what the measuring
        /// thread would start while the clean-up runs cannot be left behind.
        var closing = false
    }

    private static let made = Mutex(Made())
    /// The signal sources, kept for the life of the process.
    private static let sources = Mutex(SignalSources())

    /// Dispatch's sources are thread-safe but not marked Sendable; these are only held, never
    /// touched again once resumed.
    private struct SignalSources: @unchecked Sendable {
        var held: [DispatchSourceSignal] = []
    }

    /// Starts `process` and keeps its pid until `end` (or until an interrupted run ends it).
    static func run(_ process: Process) throws {
        try made.withLock { made throws in
            guard !made.closing else { throw BenchError("interrupted") }
            try process.run()
            made.processes.insert(process.processIdentifier)
        }
    }

    /// Ends `process` (SIGTERM, then waits for it) and forgets it.
    static func end(_ process: Process) {
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        let pid = process.processIdentifier
        made.withLock { _ = $0.processes.remove(pid) }
    }

    /// Makes `folder` (and its parents) and keeps it until `remove`.
    static func makeFolder(_ folder: URL) throws {
        try made.withLock { made throws in
            guard !made.closing else { throw BenchError("interrupted") }
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            made.folders.insert(folder.path)
        }
    }

    /// Removes `folder` and forgets it.
    static func remove(_ folder: URL) {
        try? FileManager.default.removeItem(at: folder)
        made.withLock { _ = $0.folders.remove(folder.path) }
    }

    /// On SIGINT, SIGTERM or SIGHUP: ends every process started through `run`, removes every
    /// folder made through `makeFolder`, and exits with 128 + the signal's number, as a shell
    /// reports a process a signal ended.
    public static func cleanUpOnSignals() {
        let queue = DispatchQueue(label: "normd.bench.signals")
        let installed = [SIGINT, SIGTERM, SIGHUP].map { signo in
            signal(signo, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signo, queue: queue)
            source.setEventHandler {
                cleanUp()
                // Not exit(): the measuring thread is still running, and must not meet the
                // process's teardown halfway.
                fflush(nil)
                _exit(128 + signo)
            }
            source.resume()
            return source
        }
        sources.withLock { $0.held = installed }
    }

    /// Ends what is still running (SIGTERM; SIGKILL after 5 s) and removes the folders.
    static func cleanUp() {
        let pids = made.withLock { made in
            made.closing = true
            return made.processes.sorted()
        }
        for pid in pids { kill(pid, SIGTERM) }
        let deadline = DispatchTime.now().uptimeNanoseconds + 5_000_000_000
        var running = pids
        while !running.isEmpty && DispatchTime.now().uptimeNanoseconds < deadline {
            usleep(10_000)
            running = running.filter { kill($0, 0) == 0 && !isZombie($0) }
        }
        for pid in running { kill(pid, SIGKILL) }
        // Read now, not with the pids: the measuring thread may have made one meanwhile.
        for folder in made.withLock({ $0.folders.sorted() }) { try? FileManager.default.removeItem(atPath: folder) }
    }

    /// Whether `pid` has exited and waits to be reaped (Foundation reaps its children on a
    /// thread of its own, which may not have run yet).
    private static func isZombie(_ pid: Int32) -> Bool {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = status.lastIndex(of: ")")
        else { return false }
        return status[status.index(after: close)...].trimmingCharacters(in: .whitespaces).hasPrefix("Z")
    }
}
