import Foundation
import NormCore
import NormTestSupport
import Testing

@testable import NormDaemon

@Suite("CPU support")
struct CPUSupportTests {
    @Test("missing AVX2/FMA/F16C are named; a complete flags line passes")
    func flags() throws {
        let directory = TestFolders.make("cpuinfo")
        let old = directory.appendingPathComponent("old").path
        let new = directory.appendingPathComponent("new").path
        try "processor : 0\nflags\t\t: fpu sse2 ssse3 sse4_2 avx\n".write(toFile: old, atomically: true, encoding: .utf8)
        try "processor : 0\nflags\t\t: fpu sse2 avx avx2 fma f16c bmi2\n".write(toFile: new, atomically: true, encoding: .utf8)
        #if arch(x86_64) && os(Linux)
        #expect(CPUSupport.missingFeatures(cpuinfo: old) == ["avx2", "fma", "f16c"])
        #endif
        #expect(CPUSupport.missingFeatures(cpuinfo: new).isEmpty)
        #expect(CPUSupport.missingFeatures().isEmpty, "this machine runs the kernels, so it must have them")
    }
}
