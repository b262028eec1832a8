import Foundation

/// The kernels are compiled for Haswell-level x86-64 (AVX2, FMA, F16C); on an older CPU they
/// would die of SIGILL at the first batch. This says so at start-up instead.
public enum CPUSupport {
    public static let required = ["avx2", "fma", "f16c"]

    /// Required features the CPU does not list in /proc/cpuinfo (none on other platforms).
    public static func missingFeatures(cpuinfo path: String = "/proc/cpuinfo") -> [String] {
        #if arch(x86_64) && os(Linux)
        guard let text = try? String(contentsOfFile: path, encoding: .utf8),
            let flags = text.split(separator: "\n").first(where: { $0.hasPrefix("flags") })
        else { return [] }
        let present = Set(flags.split(whereSeparator: { $0 == " " || $0 == ":" || $0 == "\t" }).map(String.init))
        return required.filter { !present.contains($0) }
        #else
        return []
        #endif
    }
}
