// libFuzzer target for what normd reads back from storage: safetensors state and init files
// (byte 0 even) and a key's state in the cluster's bucket (byte 0 odd). Whatever is read must
// come out the same when written again; whatever is refused is refused with an error, never a trap.
// Build and run: scripts/fuzz state [seconds]
import FuzzDriver
import NormCluster
import NormDaemon
import NormFormats

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzState(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    if data[0] % 2 == 0 {
        guard let file = try? SafeTensors.decode(bytes) else { return 0 }
        precondition((try? SafeTensors.decode(file.encoded())) == file, "a safetensors file read back differs")
        _ = try? StateFiles.decode(file)
    } else {
        guard let state = try? KeyState(decoding: bytes) else { return 0 }
        precondition((try? KeyState(decoding: state.encoded)) == state, "a key state read back differs")
    }
    return 0
}

@_cdecl("FuzzState_main")
public func fuzzStateMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runLibFuzzer(argc, argv) { fuzzState($0, $1) }
}
