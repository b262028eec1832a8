import Foundation
import NormTestSupport
import Testing

@Suite("normd bench interrupted")
struct BenchInterruptTests {
    /// The children of `pid`, from /proc.
    static func children(of pid: Int32) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap(Int32.init).filter { child in
            guard let stat = try? String(contentsOfFile: "/proc/\(child)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else { return false }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 1 && Int32(fields[1]) == pid
        }
    }

    /// Whether `pid` has ended: gone, or a zombie its new parent has not reaped yet.
    static func ended(_ pid: Int32) -> Bool {
        guard kill(pid, 0) == 0 else { return true }
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else { return true }
        return stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).hasPrefix("Z")
    }

    @Test(
        "SIGTERM (timeout) or SIGINT to a bench run, during a normd round or the driver's: the daemons it started end, its folders go, it exits 128 + the signal",
        arguments: [(SIGTERM, "normd"), (SIGINT, "normd"), (SIGTERM, "driver")])
    func interrupted(signal: Int32, during phase: String) throws {
        let temporary = DaemonProcess.makeDirectory()
        let bench = Process()
        bench.executableURL = URL(fileURLWithPath: DaemonProcess.binary)
        bench.arguments = ["bench", "--shape", "2,4,2", "--rounds", "100", "--duration", "1", "--no-forwarder"]
        bench.environment = ProcessInfo.processInfo.environment.merging(["TMPDIR": temporary.path]) { _, new in new }
        bench.standardOutput = FileHandle.nullDevice
        bench.standardError = FileHandle.nullDevice
        try bench.run()
        defer { if bench.isRunning { bench.terminate() } }
        let folders = { (try? FileManager.default.contentsOfDirectory(atPath: temporary.path)) ?? [] }
        // A normd round is running: its folder holds the daemon's control socket.
        #expect(eventually { folders().contains { FileManager.default.fileExists(atPath: "\(temporary.path)/\($0)/ctl.sock") } }, "\(folders())")
        var started = Self.children(of: bench.processIdentifier)
        #expect(!started.isEmpty)
        if phase == "driver" {
            // The next round's driver alone: its folder, and no daemon.
            #expect(eventually { folders().contains { $0.hasSuffix("-driver") } }, "\(folders())")
            started = Self.children(of: bench.processIdentifier)
        }

        kill(bench.processIdentifier, signal)
        bench.waitUntilExit()
        #expect(bench.terminationReason == .exit && bench.terminationStatus == 128 + signal)
        #expect(eventually { started.allSatisfy(Self.ended) }, "the bench's daemon \(started) outlived it")
        #expect(folders().isEmpty, "\(folders())")
    }
}
