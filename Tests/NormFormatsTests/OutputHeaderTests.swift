import NormCore
import NormTestSupport
import Testing

@testable import NormFormats

/// The output header is spliced from the input header's bytes; it must hold the same JSON values,
/// in the same order, as serializing the parsed header does (the contract: passed through,
/// equal as JSON values).
@Suite("Output header: spliced from the input's bytes")
struct OutputHeaderTests {
    static let decoder = WireDecoder(maxMessageBytes: 1 << 30, channels: 0, groups: nil)

    static func decode(_ text: String) throws -> InboundHeader {
        let key = Array("k".utf8)
        let header = Array(text.utf8)
        return try key.withUnsafeBytes { k in try header.withUnsafeBytes { h in try decoder.decode(keyFrame: k, headerFrame: h) } }
    }

    /// The spliced header, parsed, beside the tree-serialized one, parsed.
    static func both(_ text: String, batches: Int64? = 3) throws -> (spliced: JSONValue, tree: JSONValue, bytes: [UInt8]) {
        let header = try decode(text)
        let bytes = WireEncoder.outputHeader(header, outputDType: .float16, kind: "batch", mode: "train", batches: batches)
        // What the pipeline writes: appended to an array it reuses.
        var reused = Array("old".utf8)
        reused.removeAll(keepingCapacity: true)
        OutputHeader(header, outputDType: .float16, kind: "batch", mode: "train", batches: batches).append(to: &reused)
        #expect(reused == bytes, "\(text)")
        // The member walk, which a header with one dtype and no norm skips for three copies: the
        // same bytes, or for the copy the same bytes once the space between tokens is removed.
        var walked: [UInt8] = []
        if header.splices {
            header.raw.withUnsafeBytes { raw in
                HeaderSplice.write(raw, dtype: .float16, to: &walked) { out in
                    out += Array(#"{"kind":"batch","mode":"train""#.utf8)
                    if let batches { out += Array(#","batches":\#(batches)"#.utf8) }
                    out.append(UInt8(ascii: "}"))
                }
            }
            #expect(header.copy == nil ? bytes == walked : Self.minified(bytes) == Self.minified(walked), "\(text)")
        }
        var norm: [(String, JSONValue)] = [("kind", .string("batch")), ("mode", .string("train"))]
        if let batches { norm.append(("batches", .int(batches))) }
        let tree = WireEncoder.outputHeader(header.members, outputDType: .float16, norm: norm)
        return (try JSONParser.parse(bytes), try JSONParser.parse(Array(tree.utf8)), bytes)
    }

    /// JSON text without the space between its tokens (strings kept as they are).
    static func minified(_ json: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        var inString = false
        var escaped = false
        for byte in json {
            if inString {
                if escaped { escaped = false } else if byte == UInt8(ascii: "\\") { escaped = true } else if byte == UInt8(ascii: "\"") { inString = false }
                out.append(byte)
            } else if ![0x20, 0x09, 0x0A, 0x0D].contains(byte) {
                if byte == UInt8(ascii: "\"") { inString = true }
                out.append(byte)
            }
        }
        return out
    }

    @Test(
        "spaces, nested values with braces and quotes in strings, a norm already there, duplicate dtype and norm, escaped keys",
        arguments: [
            #"{"dtype":"float32","shape":[2,3]}"#,
            " { \"shape\" : [ 2 , 3 ] ,\"dtype\"\t:\t\"float32\" , \"seq\" : 18446744073709551615 } ",
            #"{"dtype":"float32","shape":[2,3],"meta":{"a":"}{][","b":[{"c":"\""}],"d":null},"e":-1.5e3,"f":true}"#,
            #"{"norm":{"old":1},"dtype":"float32","shape":[2,3],"norm":2}"#,
            #"{"dtype":"float32","shape":[2,3],"dtype":"float64","x":"\\"}"#,
            #"{"d\u0074ype":"float32","shape":[2,3],"n\u006Frm":"mine","é":"\u00e9"}"#,
            #"{"shape":[2,3],"dtype":"bfloat16","empty":{},"list":[]}"#,
        ])
    func cases(_ text: String) throws {
        let (spliced, tree, _) = try Self.both(text)
        #expect(spliced == tree)
        #expect(spliced["dtype"]?.stringValue == "float16")
        #expect(spliced["norm"]?["batches"]?.intValue == 3)
    }

    @Test("without running statistics the norm object has no batches; a compact header comes out byte for byte as the tree gives it")
    func compact() throws {
        let (spliced, tree, bytes) = try Self.both(#"{"dtype":"float32","shape":[2,3],"seq":7}"#, batches: nil)
        #expect(spliced == tree)
        #expect(String(decoding: bytes, as: UTF8.self) == #"{"dtype":"float16","shape":[2,3],"seq":7,"norm":{"kind":"batch","mode":"train"}}"#)
    }

    @Test(
        "a header with one dtype and no norm is copied around its dtype value, as the producer spaced it; any other is walked",
        arguments: [
            (#"{"dtype":"float32","shape":[2,3]}"#, true),
            (#" { "shape" : [2, 3] , "dtype" : "float32" } "#, true),
            (#"{"a":{"b" : [1, 2]},"dtype":"float32","shape":[2,3],"seq":7}"#, true),
            (#"{"dtype":"float32","shape":[2,3],"norm":1}"#, false),
            (#"{"dtype":"float32","shape":[2,3],"dtype":"float32"}"#, false),
            (#"{"d\u0074ype":"float32","shape":[2,3]}"#, false),
        ])
    func copied(_ text: String, copies: Bool) throws {
        let header = try Self.decode(text)
        #expect((header.copy != nil) == copies)
        let (spliced, tree, _) = try Self.both(text)
        #expect(spliced == tree)
    }

    @Test("a header as Python's json.dumps writes it keeps its spacing; dtype is replaced where it stood and norm comes last")
    func pythonSpacing() throws {
        let (spliced, tree, bytes) = try Self.both(#"{"dtype": "float32", "shape": [2, 3], "seq": 7}"#, batches: 2)
        #expect(spliced == tree)
        #expect(
            String(decoding: bytes, as: UTF8.self) == #"{"dtype": "float16", "shape": [2, 3], "seq": 7,"norm":{"kind":"batch","mode":"train","batches":2}}"#)
    }

    @Test("1,000 generated headers with one dtype and no norm, spaced at random: copied, and equal to the member walk but for space")
    func generatedCopies() throws {
        var random = SeededGenerator(seed: 7)
        let spaces = ["", " ", "\n", "\t "]
        func space() -> String { spaces[Int(random.next() % 4)] }
        for _ in 0..<1_000 {
            var members = [#""dtype""# + space() + ":" + space() + #""float32""#, #""shape":[2, 3]"#]
            for i in 0..<Int(random.next() % 4) {
                let item = [#""s\#(i)""#, "\(Int64(bitPattern: random.next()) >> 30)", #"{"x" : [1,{"y":"}{ ,:"}]}"#, "null"][Int(random.next() % 4)]
                members.insert("\"m\(i)\"" + space() + ":" + space() + item, at: Int(random.next() % UInt64(members.count + 1)))
            }
            let text = space() + "{" + space() + members.joined(separator: space() + "," + space()) + space() + "}" + space()
            let header = try Self.decode(text)
            #expect(header.copy != nil, "\(text)")
            let (spliced, tree, _) = try Self.both(text, batches: random.next() % 2 == 0 ? nil : Int64(random.next() >> 1))
            #expect(spliced == tree, "\(text)")
        }
    }

    @Test("2,000 generated headers: the splice and the tree agree")
    func generated() throws {
        var random = SeededGenerator(seed: 42)
        let spaces = ["", " ", "\n", "\t "]
        func space() -> String { spaces[Int(random.next() % 4)] }
        func value(_ depth: Int) -> String {
            switch random.next() % (depth > 2 ? 4 : 6) {
            case 0: return String(Int64(bitPattern: random.next()) >> 20)
            case 1: return ["\"a\"", "\"}{,:\"", "\"q\\\"q\"", "\"\\u00e9\"", "\"\""][Int(random.next() % 5)]
            case 2: return ["true", "false", "null", "1.5e-3"][Int(random.next() % 4)]
            case 3: return "-0.25"
            case 4: return "[" + (0..<Int(random.next() % 3)).map { _ in space() + value(depth + 1) + space() }.joined(separator: ",") + "]"
            default:
                return "{" + (0..<Int(random.next() % 3)).map { i in space() + "\"m\(i)\"" + space() + ":" + space() + value(depth + 1) }.joined(separator: ",")
                    + "}"
            }
        }
        for _ in 0..<2_000 {
            var members = ["\"dtype\"" + space() + ":" + space() + "\"float32\"", "\"shape\":[2,3]"]
            for i in 0..<Int(random.next() % 5) {
                let name = ["norm", "dtype", "x\(i)", "seq"][Int(random.next() % 4)]
                let item = name == "dtype" ? "\"float64\"" : name == "seq" ? String(random.next()) : value(0)
                members.insert("\"\(name)\"" + space() + ":" + space() + item, at: Int(random.next() % UInt64(members.count + 1)))
            }
            let text = space() + "{" + space() + members.joined(separator: space() + "," + space()) + space() + "}" + space()
            // A duplicate dtype placed first makes the batch float64: still a valid header.
            guard (try? Self.decode(text)) != nil else {
                Issue.record("generated header rejected: \(text)")
                continue
            }
            let (spliced, tree, _) = try Self.both(text)
            #expect(spliced == tree, "\(text)")
        }
    }
}
