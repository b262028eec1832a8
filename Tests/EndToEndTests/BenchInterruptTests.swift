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
        "SIGTERM (timeout) or SIGINT to a bench run ends the daemon it started and removes its folders; it exits 128 + the signal",
        arguments: [SIGTERM, SIGINT])
    func interrupted(signal: Int32) throws {
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
        let daemons = Self.children(of: bench.processIdentifier)
        #expect(!daemons.isEmpty)

        kill(bench.processIdentifier, signal)
        bench.waitUntilExit()
        #expect(bench.terminationReason == .exit && bench.terminationStatus == 128 + signal)
        #expect(eventually { daemons.allSatisfy(Self.ended) }, "the bench's daemon \(daemons) outlived it")
        #expect(folders().isEmpty, "\(folders())")
    }
}
