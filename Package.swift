// swift-tools-version:6.2
import PackageDescription

// The kernels are built for Haswell-level x86-64 (AVX2, FMA, F16C): without it `-O` lowers SIMD fused
// multiply-adds to per-element `fmaf` calls and Float16 conversions to library calls.
#if arch(x86_64)
let kernelFlags: [SwiftSetting] = [.unsafeFlags(["-target-cpu", "haswell"])]
#else
let kernelFlags: [SwiftSetting] = []
#endif

/// Our own targets treat warnings as errors; dependencies keep their own settings.
let strict: [SwiftSetting] = [.treatAllWarnings(as: .error)]

let package = Package(
    name: "normd",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "normd", targets: ["normd"]),
        .library(name: "NormCore", targets: ["NormCore"]),
        .library(name: "NormDaemon", targets: ["NormDaemon"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        // Only for the optional HTTP /metrics listener (daemon.metrics_listen).
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
    ],
    targets: [
        .systemLibrary(
            name: "CZeroMQ",
            pkgConfig: "libzmq",
            providers: [.apt(["libzmq3-dev"])]
        ),
        .systemLibrary(
            name: "CNats",
            pkgConfig: "libnats",
            providers: [.apt(["libnats-dev"])]
        ),
        // accept4 for the daemon's executable: libzmq aborts on EMFILE at an ipc:// accept (see the file).
        .target(name: "CAcceptGuard"),
        .target(name: "Locking", swiftSettings: strict),
        // libnats behind a thin owner-class layer, like ZeroMQ: cluster mode's transport.
        .target(name: "NATS", dependencies: ["CNats"], swiftSettings: strict),
        .target(name: "ZeroMQ", dependencies: ["CZeroMQ", "Locking"], swiftSettings: strict),
        .target(name: "NormCore", dependencies: ["Locking"], swiftSettings: kernelFlags + strict),
        // The parsers of what arrives from outside (wire headers, JSON, TOML, safetensors): their
        // own target, so the fuzzers link them and nothing else.
        .target(name: "NormFormats", dependencies: ["NormCore"], swiftSettings: strict),
        .target(
            name: "NormDaemon",
            dependencies: [
                "NormCore", "NormFormats", "ZeroMQ", "Locking", "NormCluster",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        // Cluster mode: a pipeline's keys shared by instances through NATS JetStream.
        .target(
            name: "NormCluster",
            dependencies: ["NormCore", "NormFormats", "NATS", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict),
        .target(
            name: "NormBench", dependencies: ["NormCore", "NormFormats", "NormDaemon", "ZeroMQ", "Locking", "NATS", "NormCluster"], swiftSettings: strict),
        .executableTarget(
            name: "normd",
            dependencies: [
                "NormDaemon", "NormFormats", "NormBench", "CAcceptGuard",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict,
            // Exported, so libzmq's calls bind to CAcceptGuard's accept4 rather than libc's.
            linkerSettings: [.unsafeFlags(["-Xlinker", "--export-dynamic-symbol=accept4"])]
        ),
        // What the tests share: one seeded generator, one pipeline-table builder, ZeroMQ peers, the
        // process runner and an in-process daemon.
        .target(
            name: "NormTestSupport",
            dependencies: [
                "NormDaemon", "NormFormats", "NormCore", "ZeroMQ", "NATS", "NormCluster",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/NormTestSupport", swiftSettings: strict),
        .testTarget(name: "NormCoreTests", dependencies: ["NormCore", "Locking", "NormTestSupport"], resources: [.copy("Fixtures")], swiftSettings: strict),
        // DriftTests read their fixtures through #filePath.
        .testTarget(
            name: "NormDaemonTests", dependencies: ["NormDaemon", "NormFormats", "NormTestSupport", "ZeroMQ"], exclude: ["Fixtures"], swiftSettings: strict),
        .testTarget(name: "NormFormatsTests", dependencies: ["NormFormats", "NormCore", "NormTestSupport"], swiftSettings: strict),
        .testTarget(name: "ZeroMQTests", dependencies: ["ZeroMQ"], swiftSettings: strict),
        .testTarget(name: "NATSTests", dependencies: ["NATS", "NormTestSupport"], swiftSettings: strict),
        .testTarget(
            name: "NormClusterTests", dependencies: ["NormCluster", "NATS", "NormCore", "NormFormats", "NormTestSupport"], swiftSettings: strict),
        .testTarget(name: "LockingTests", dependencies: ["Locking"], swiftSettings: strict),
        .testTarget(name: "NormBenchTests", dependencies: ["NormBench", "ZeroMQ", "NormFormats"], swiftSettings: strict),
        // The end-to-end tests read their fixtures through #filePath; they drive the built binary.
        .testTarget(
            name: "EndToEndTests", dependencies: ["NormDaemon", "NormFormats", "ZeroMQ", "NormTestSupport", "NATS", "NormCluster"], exclude: ["Fixtures"],
            swiftSettings: strict),
    ],
    swiftLanguageModes: [.v6]
)

// libFuzzer targets, declared only for scripts/fuzz (they need -sanitize=fuzzer and have no main).
if Context.environment["NORMD_FUZZ"] == "1" {
    package.targets += [
        .target(name: "FuzzDriver", path: "Fuzz/FuzzDriver"),
        .executableTarget(name: "FuzzHeader", dependencies: ["NormFormats", "NormCore", "FuzzDriver"], path: "Fuzz/FuzzHeader"),
        .executableTarget(name: "FuzzConfig", dependencies: ["NormDaemon", "FuzzDriver"], path: "Fuzz/FuzzConfig"),
        .executableTarget(name: "FuzzState", dependencies: ["NormDaemon", "NormCluster", "NormFormats", "FuzzDriver"], path: "Fuzz/FuzzState"),
    ]
}
