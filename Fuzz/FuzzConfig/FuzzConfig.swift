// libFuzzer target for the configuration loader: any text either loads, and then renders to
// TOML that loads to the same configuration, or fails with problems that name the file.
// Build and run: scripts/fuzz config [seconds]
import FuzzDriver
import NormDaemon

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConfig(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeRawBufferPointer(start: data, count: size), as: UTF8.self)
    let environment = ["HOME": "/nonexistent"]
    do {
        let loaded = try ConfigurationLoader.parse(text, file: "fuzz.toml", environment: environment)
        let rendered = ConfigurationRenderer.render(loaded.configuration)
        let again = try ConfigurationLoader.parse(rendered, file: "rendered.toml", environment: environment)
        precondition(again.configuration == loaded.configuration, "render round trip changed the configuration:\n\(rendered)")
    } catch {
        // The loader throws only ConfigurationError (typed throws), so this is all it can be.
        precondition(!error.problems.isEmpty && error.problems.allSatisfy { $0.file == "fuzz.toml" }, "\(error)")
    }
    return 0
}

@_cdecl("FuzzConfig_main")
public func fuzzConfigMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runLibFuzzer(argc, argv) { fuzzConfig($0, $1) }
}
