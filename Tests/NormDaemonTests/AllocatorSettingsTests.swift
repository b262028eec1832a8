import Foundation
import NormTestSupport
import Testing

@testable import NormDaemon

@Suite("Allocator settings")
struct AllocatorSettingsTests {
    @Test("an operator's MALLOC_*_ or glibc.malloc tunable for either threshold is left alone; other settings are not in the way")
    func operatorWins() {
        #expect(!AllocatorSettings.operatorSetsThresholds([:]))
        #expect(!AllocatorSettings.operatorSetsThresholds(["GLIBC_TUNABLES": "glibc.malloc.arena_max=2", "MALLOC_ARENA_MAX": "2"]))
        #expect(AllocatorSettings.operatorSetsThresholds(["MALLOC_TRIM_THRESHOLD_": "1048576"]))
        #expect(AllocatorSettings.operatorSetsThresholds(["MALLOC_MMAP_THRESHOLD_": "1048576"]))
        #expect(AllocatorSettings.operatorSetsThresholds(["GLIBC_TUNABLES": "glibc.malloc.arena_max=2:glibc.malloc.mmap_threshold=65536"]))
        #expect(AllocatorSettings.operatorSetsThresholds(["GLIBC_TUNABLES": "glibc.malloc.trim_threshold=0"]))
        #expect(!AllocatorSettings.apply(environment: ["MALLOC_TRIM_THRESHOLD_": "1048576"]))
    }

    @Test("glibc takes both thresholds (a sanitizer's allocator ignores mallopt, so only the plain build can say)")
    func glibcTakesThem() {
        // ASan's and TSan's allocators answer mallopt without acting on it.
        #expect(AllocatorSettings.apply(environment: [:]) || Sanitizer.isActive)
    }
}
