import NormCore
import NormTestSupport
import Testing

@testable import NormFormats

/// The one-pass header scan against the parser: on every header, well-formed or not, decoding
/// gives what decoding by parsing gives — the same fields and output header, or the same
/// rejection with the same detail.
@Suite("Header scan: the one-pass read equals the parser's")
struct HeaderScanTests {
    static let decoder = WireDecoder(maxMessageBytes: 1 << 24, channels: 0, groups: nil)

    /// Both ways on one header; records a difference and returns whether the scan read it.
    @discardableResult
    static func compare(_ header: [UInt8], key: [UInt8] = Array("k".utf8), decoder: WireDecoder = decoder) -> Bool {
        key.withUnsafeBytes { k in
            header.withUnsafeBytes { h in
                let fast = Result { () throws(Rejection) in try decoder.decode(keyFrame: k, headerFrame: h) }
                let parsed = Result { () throws(Rejection) in try decoder.decodeByParsing(keyFrame: k, headerFrame: h) }
                let text = String(decoding: header, as: UTF8.self)
                switch (fast, parsed) {
                case (.failure(let a), .failure(let b)):
                    #expect(a == b, "\(text)")
                case (.success(let a), .success(let b)):
                    #expect(a.key == b.key && a.descriptor == b.descriptor && a.raw == b.raw && a.seq == b.seq, "\(text)")
                    let outA = WireEncoder.outputHeader(a, outputDType: .float16, kind: "batch", mode: "train", batches: 5)
                    let outB = WireEncoder.outputHeader(b, outputDType: .float16, kind: "batch", mode: "train", batches: 5)
                    // The scan's header, copied as the producer spaced it when it can be, differs
                    // from the parser's walked one by space between tokens at most.
                    #expect(a.copy == nil ? outA == outB : OutputHeaderTests.minified(outA) == OutputHeaderTests.minified(outB), "\(text)")
                default:
                    Issue.record("one way accepts, the other rejects: \(text) — \(fast) vs \(parsed)")
                }
                var shape: [Int] = []
                return HeaderScan.scan(h, maxDepth: WireDecoder.maxHeaderDepth, shape: &shape) != nil
            }
        }
    }

    @Test(
        "cases at each edge: fields missing, mistyped, out of range, duplicated; escapes, control bytes, non-ASCII, depth",
        arguments: [
            #"{"dtype":"float32","shape":[2,3]}"#,
            #"{"dtype":"float32","shape":[2,3],"seq":18446744073709551615}"#,
            #"{"dtype":"float32","shape":[2,3],"seq":18446744073709551616}"#,
            #"{"dtype":"float32","shape":[2,3],"seq":-1}"#,
            #"{"dtype":"float32","shape":[2,3],"seq":1.0}"#,
            #"{"dtype":"float32","shape":[2,3],"seq":"1"}"#,
            #"{"dtype":"float32","shape":[2,3],"seq":01}"#,
            #"{"dtype":"float32","shape":[2,3],"layout":"NHWC"}"#,
            #"{"dtype":"float32","shape":[2,3],"layout":"nhwc"}"#,
            #"{"dtype":"float32","shape":[2,3],"layout":7}"#,
            #"{"dtype":"float33","shape":[2,3]}"#,
            #"{"dtype":3,"shape":[2,3]}"#,
            #"{"shape":[2,3]}"#,
            #"{"dtype":"float32"}"#,
            #"{"dtype":"float32","shape":[2]}"#,
            #"{"dtype":"float32","shape":[1,2,3,4,5,6]}"#,
            #"{"dtype":"float32","shape":[2,0]}"#,
            #"{"dtype":"float32","shape":[2,-3]}"#,
            #"{"dtype":"float32","shape":[2,3.0]}"#,
            #"{"dtype":"float32","shape":[2,[3]]}"#,
            #"{"dtype":"float32","shape":[2,9223372036854775808]}"#,
            #"{"dtype":"float32","shape":[4294967296,4294967296]}"#,
            #"{"dtype":"float32","shape":[4096,4096,4096]}"#,
            #"{"dtype":"float32","shape":"2,3"}"#,
            #"{"dtype":"float32","shape":[ 2 , 3 ] }"#,
            #"{"dtype":"float64","shape":[2,3],"dtype":"float32"}"#,
            #"{"dtype":"float32","shape":[2,3],"x":"\u00e9"}"#,
            #"{"dt\u0079pe":"float32","shape":[2,3]}"#,
            #"{"dtype":"float32","shape":[2,3],"x":"é"}"#,
            #"{"dtype":"float32","shape":[2,3],}"#,
            #"{"dtype":"float32","shape":[2,3]} x"#,
            #"{"dtype":"float32","shape":[2,3],"x":tru}"#,
            #"{"dtype":"float32","shape":[2,3],"x":1e}"#,
            #"{"dtype":"float32","shape":[2,3],"x":-}"#,
            #"[{"dtype":"float32","shape":[2,3]}]"#,
            #""#,
            #"{"#,
        ])
    func cases(_ text: String) {
        Self.compare(Array(text.utf8))
    }

    @Test("a control byte in a string, nesting at the limit and one past it")
    func limits() {
        var header = Array(#"{"dtype":"float32","shape":[2,3],"x":"a"}"#.utf8)
        header[header.count - 3] = 0x01
        Self.compare(header)
        let nest = { (n: Int) in "{\"dtype\":\"float32\",\"shape\":[2,3],\"x\":" + String(repeating: "[", count: n) + String(repeating: "]", count: n) + "}" }
        #expect(Self.compare(Array(nest(WireDecoder.maxHeaderDepth - 1).utf8)))
        #expect(!Self.compare(Array(nest(WireDecoder.maxHeaderDepth).utf8)))
    }

    @Test("channels and groups the pipeline fixes are checked after the scan too")
    func pipelineChecks() {
        let fixed = WireDecoder(maxMessageBytes: 1 << 20, channels: 4, groups: 2)
        for shape in ["[2,4]", "[2,3]", "[2,6]", "[1,1000000,1000]"] {
            Self.compare(Array(#"{"dtype":"float32","shape":\#(shape)}"#.utf8), decoder: fixed)
        }
    }

    @Test("3,000 generated headers and a mutation of each: both ways agree, and the scan reads most valid ones")
    func generated() {
        var random = SeededGenerator(seed: 1234)
        func pick(_ items: [String]) -> String { items[Int(random.next() % UInt64(items.count))] }
        func space() -> String { pick(["", "", " ", "\n", "\t "]) }
        func value(_ depth: Int) -> String {
            switch random.next() % (depth > 2 ? 4 : 6) {
            case 0: return String(Int64(bitPattern: random.next()) >> 20)
            case 1: return pick(["\"a\"", "\"}{,:\"", "\"q\\\"q\"", "\"\\u00e9\"", "\"\"", "\"é\""])
            case 2: return pick(["true", "false", "null", "1.5e-3", "0", "-0"])
            case 3: return "-0.25"
            case 4: return "[" + (0..<Int(random.next() % 3)).map { _ in space() + value(depth + 1) + space() }.joined(separator: ",") + "]"
            default:
                var members: [String] = []
                for i in 0..<Int(random.next() % 3) {
                    let name: String = "\"m\(i)\""
                    members.append(space() + name + space() + ":" + space() + value(depth + 1))
                }
                return "{" + members.joined(separator: ",") + "}"
            }
        }
        let fields: [String: [String]] = [
            "dtype": ["\"float32\"", "\"float32\"", "\"bfloat16\"", "\"float16\"", "\"float64\"", "\"int8\"", "7", "null"],
            "shape": ["[2,3]", "[4,4,6,6]", "[ 1 , 8 ]", "[2]", "[2,0]", "[2,3,4,5,6,7]", "[2,-1]", "[2,3.5]", "[]", "\"2\""],
            "seq": ["0", "42", "18446744073709551615", "18446744073709551616", "-3", "2.0", "\"7\"", "1e3"],
            "layout": ["\"NCHW\"", "\"NHWC\"", "\"NCWH\"", "0"],
        ]
        var scanned = 0
        var accepted = 0
        for _ in 0..<3_000 {
            var members = ["\"dtype\"" + space() + ":" + space() + "\"float32\"", "\"shape\":[2,3]"]
            for i in 0..<Int(random.next() % 6) {
                let name = pick(["norm", "dtype", "x\(i)", "seq", "shape", "layout", "d\\u0074ype"])
                let item = fields[name].map(pick) ?? value(0)
                members.insert("\"\(name)\"" + space() + ":" + space() + item, at: Int(random.next() % UInt64(members.count + 1)))
            }
            if random.next() % 8 == 0 { members.remove(at: Int(random.next() % UInt64(members.count))) }
            let comma: String = space() + "," + space()
            let body: String = members.joined(separator: comma)
            let open: String = space() + "{" + space()
            let close: String = space() + "}" + space()
            let header = Array((open + body + close).utf8)
            if Self.compare(header) { scanned += 1 }
            if (try? header.withUnsafeBytes { h in try Self.decoder.decodeByParsing(keyFrame: UnsafeRawBufferPointer(start: nil, count: 0), headerFrame: h) })
                != nil
            {
                accepted += 1
            }
            // One mutation: a byte replaced, removed or inserted, or the header cut short.
            var mutated = header
            let at = Int(random.next() % UInt64(header.count))
            let bytes: [UInt8] = [0x22, 0x5C, 0x01, 0xC3, 0xA9, 0x7B, 0x5D, 0x2C, 0x30, 0x2D, 0x20, 0x65]
            switch random.next() % 4 {
            case 0: mutated[at] = bytes[Int(random.next() % UInt64(bytes.count))]
            case 1: mutated.remove(at: at)
            case 2: mutated.insert(bytes[Int(random.next() % UInt64(bytes.count))], at: at)
            default: mutated.removeLast(header.count - at)
            }
            Self.compare(mutated)
        }
        // Most generated headers are valid and plain: if the scan gave up on them, this fails.
        #expect(accepted > 1_000)
        #expect(scanned * 10 >= accepted * 6, "scan read \(scanned) of \(accepted) accepted headers")
    }
}
