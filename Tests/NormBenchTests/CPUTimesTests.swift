import Foundation
import Testing

@testable import NormBench

@Suite("CPU time from /proc: the machine's busy share and the target's CPU per batch")
struct CPUTimesTests {
    @Test("a process's user + system ticks are counted from the last ')', whatever its name holds")
    func processTicks() {
        let fields = "S 1 2 3 0 -1 4194304 1532 0 7 0 250 17 0 0 20 0 10 0 2845465 704278528 8566"
        #expect(CPUTimes.processTicks("29947 (normd) \(fields)\n") == 267)
        #expect(CPUTimes.processTicks("29947 (a b) c) (d) \(fields)") == 267)
        #expect(CPUTimes.processTicks("29947 (normd) S 1 2 3") == nil)
        #expect(CPUTimes.processTicks("no parenthesis at all") == nil)
    }

    @Test("the machine's busy ticks leave out idle and iowait; guest time is not counted twice")
    func machineTicks() throws {
        let stat = "cpu  100 5 50 1000 20 3 2 1 40 0\ncpu0 50 2 25 500 10 1 1 0 20 0\nintr 1 2 3\n"
        let ticks = try #require(CPUTimes.machineTicks(stat))
        #expect(ticks.busy == 161 && ticks.total == 1181)
        #expect(CPUTimes.machineTicks("cpu0 1 2 3 4 5 6 7 8\n") == nil)
        #expect(CPUTimes.machineTicks("cpu  1 2 3\n") == nil)
    }

    @Test("a window's use: busy share of all CPUs and the process's CPU seconds")
    func use() throws {
        let start = CPUTimes(machineBusy: 1000, machineTotal: 4000, process: 300)
        let end = CPUTimes(machineBusy: 1150, machineTotal: 4200, process: 380)
        let use = try #require(CPUTimes.use(from: start, to: end, ticksPerSecond: 100))
        #expect(use.machineBusy == 0.75 && use.processSeconds == 0.8)
        // No process watched: the machine alone.
        #expect(CPUTimes.use(from: CPUTimes(machineBusy: 1, machineTotal: 2), to: CPUTimes(machineBusy: 2, machineTotal: 4))?.processSeconds == nil)
        // A window without a tick tells nothing.
        #expect(CPUTimes.use(from: start, to: start) == nil)
    }

    @Test("read from this process: its CPU time grows while it works")
    func live() throws {
        let pid = getpid()
        let start = try #require(CPUTimes.read(pid: pid))
        let before = try #require(start.process)
        // Works until the kernel has counted at least one more busy tick of this process and of
        // the machine (a tick is 10 ms at the usual 100 Hz; /proc/stat's sums move separately
        // from the process's); the deadline only ends a broken /proc.
        let deadline = Date().addingTimeInterval(30)
        var sum = 0.0, i = 0.0
        var now = start
        while ((now.process ?? 0) <= before || now.machineBusy <= start.machineBusy) && Date() < deadline {
            for _ in 0..<100_000 { sum += (i * 1.000001).squareRoot(); i += 1 }
            now = try #require(CPUTimes.read(pid: pid))
        }
        #expect(sum > 0)
        let use = try #require(CPUTimes.use(from: start, to: now))
        #expect((use.processSeconds ?? 0) > 0)
        #expect(use.machineBusy > 0 && use.machineBusy <= 1)
    }
}
