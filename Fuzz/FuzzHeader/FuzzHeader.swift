import FuzzDriver
// libFuzzer target for the wire decoder (frames 0 and 1) and the JSON it relies on.
// Input: byte 0 is the key's length, then the key, then the header frame.
// Build and run: scripts/fuzz header [seconds]
import NormCore
import NormFormats

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHeader(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    guard let first = bytes.first else { return 0 }
    let keyLength = min(Int(first), size - 1)
    let key = UnsafeRawBufferPointer(rebasing: bytes[1..<(1 + keyLength)])
    let header = UnsafeRawBufferPointer(rebasing: bytes[(1 + keyLength)...])
    let decoder = WireDecoder(maxMessageBytes: 1 << 20, channels: 0, groups: nil)
    // The one-pass scan and the parser agree on every input: the same rejection, or the same fields.
    let scanned = Result { () throws(Rejection) in try decoder.decode(keyFrame: key, headerFrame: header) }
    let parsed = Result { () throws(Rejection) in try decoder.decodeByParsing(keyFrame: key, headerFrame: header) }
    switch (scanned, parsed) {
    case (.failure(let a), .failure(let b)): precondition(a == b, "scan rejects with \(a), parser with \(b)")
    case (.success(let a), .success(let b)):
        precondition(a.key == b.key && a.descriptor == b.descriptor && a.raw == b.raw && a.seq == b.seq, "scan and parser read different fields")
        // The scan's output header may keep the producer's space between members (copied), the
        // parser's drops it (walked): the same members, values and order either way.
        let outA = WireEncoder.outputHeader(a, outputDType: .float16, kind: "batch", mode: "train", batches: 1)
        let outB = WireEncoder.outputHeader(b, outputDType: .float16, kind: "batch", mode: "train", batches: 1)
        guard let valueA = try? JSONParser.parse(outA), let valueB = try? JSONParser.parse(outB) else { fatalError("an output header does not parse") }
        precondition(valueA == valueB, "output headers differ")
    default: preconditionFailure("scan and parser disagree on acceptance: \(scanned) vs \(parsed)")
    }
    guard let decoded = try? scanned.get() else { return 0 }
    // What was accepted must come out as a header that parses again and keeps every field.
    let output = WireEncoder.outputHeader(decoded.members, outputDType: .float32, norm: [("kind", .string("batch"))])
    guard let reparsed = try? JSONParser.parse(output), let members = reparsed.objectValue else {
        fatalError("output header does not parse: \(output)")
    }
    for (name, _) in decoded.members where name != "dtype" && name != "norm" {
        precondition(reparsed[name] == decoded.members.last { $0.0 == name }?.1, "field \(name) changed")
    }
    precondition(members.contains { $0.0 == "norm" })
    // The header spliced from the input's bytes holds the same values as the serialized tree.
    let spliced = WireEncoder.outputHeader(decoded, outputDType: .float32, kind: "batch", mode: "train", batches: nil)
    let tree = WireEncoder.outputHeader(decoded.members, outputDType: .float32, norm: [("kind", .string("batch")), ("mode", .string("train"))])
    guard let splicedValue = try? JSONParser.parse(spliced) else { fatalError("spliced header does not parse: \(spliced)") }
    precondition(splicedValue == (try? JSONParser.parse(tree)), "spliced header differs: \(String(decoding: spliced, as: UTF8.self))")
    precondition(decoded.descriptor.byteCount <= 1 << 20)
    return 0
}

@_cdecl("FuzzHeader_main")
public func fuzzHeaderMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runLibFuzzer(argc, argv) { fuzzHeader($0, $1) }
}
