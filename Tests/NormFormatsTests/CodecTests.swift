import Foundation
import NormCore
import Testing

@testable import NormFormats

@Suite("JSON and safetensors codecs")
struct CodecTests {
    @Test("the norm object's batch count is written as String(value) writes it")
    func decimal() {
        for value: Int64 in [0, 7, 10, 99, 1_000_000_007, -1, -10, .max, .min] {
            var out: [UInt8] = [UInt8(ascii: "x")]
            out.appendDecimal(value)
            #expect(String(decoding: out, as: UTF8.self) == "x" + String(value))
        }
    }

    @Test("integers pass through exactly; depth is limited; strings unescape")
    func json() throws {
        let value = try JSONParser.parse(#"{"a":18446744073709551615,"b":[1.5e-3,-0],"c":"\u00e9\n\ud83d\ude00"}"#)
        #expect(value.serialized == #"{"a":18446744073709551615,"b":[1.5e-3,-0],"c":"é\n😀"}"#)
        #expect(throws: JSONParser.Failure.self) { try JSONParser.parse(String(repeating: "[", count: 33) + String(repeating: "]", count: 33)) }
        #expect(try JSONParser.parse(String(repeating: "[", count: 32) + String(repeating: "]", count: 32)).arrayValue != nil)
        for bad in ["{", "[1,]", "01", "\"\\x\"", "tru", "{\"a\" 1}", "1 2"] {
            #expect(throws: JSONParser.Failure.self, "\(bad)") { try JSONParser.parse(bad) }
        }
    }

    @Test("the output header keeps every field in place, sets dtype and norm once")
    func outputHeader() throws {
        let members = try JSONParser.parse(#"{"dtype":"float16","seq":7,"dtype":"float64","x":[1]}"#).objectValue!
        let text = WireEncoder.outputHeader(members, outputDType: .float32, norm: [("kind", .string("layer"))])
        #expect(text == #"{"dtype":"float32","seq":7,"x":[1],"norm":{"kind":"layer"}}"#)
    }

    @Test("safetensors round trip; truncation is detected")
    func safetensors() throws {
        let file = SafeTensors(metadata: ["format": "x"], tensors: ["a.running_mean": .float64([1, 2.5]), "n": .int64(7)])
        let bytes = file.encoded()
        #expect(try SafeTensors.decode(bytes) == file)
        #expect(throws: SafeTensors.FormatError.self) { try SafeTensors.decode(Array(bytes.dropLast(3))) }
        #expect(throws: SafeTensors.FormatError.self) { try SafeTensors.decode(Array(bytes.prefix(20))) }
    }

    @Test(
        "safetensors headers that cannot be tensors are refused, never trapped on: a size past Int, a dimension or offset that is not a whole number",
        arguments: [
            #"{"t":{"dtype":"F64","shape":[2305843009213693952],"data_offsets":[0,0]}}"#,
            #"{"t":{"dtype":"F64","shape":[1152921504606846976,4],"data_offsets":[0,0]}}"#,
            #"{"t":{"dtype":"F64","shape":[1,"x"],"data_offsets":[0,8]}}"#,
            #"{"t":{"dtype":"F64","shape":[1,1.5],"data_offsets":[0,8]}}"#,
            #"{"t":{"dtype":"F64","shape":[1],"data_offsets":[0,null,8]}}"#,
            #"{"t":{"dtype":"F64","shape":[1],"data_offsets":[8,0]}}"#,
        ])
    func safetensorsBadHeader(header: String) {
        var bytes = withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { Array($0) }
        bytes += Array(header.utf8) + [UInt8](repeating: 0, count: 8)
        #expect(throws: SafeTensors.FormatError.self) { try SafeTensors.decode(bytes) }
    }

    @Test("safetensors names with quotes, backslashes, control bytes and two spellings of ñ come back byte for byte")
    func safetensorsHostileNames() throws {
        let names = ["a\"b", "back\\slash", "line\nbreak\u{1}", "\u{F1}.running_mean", "n\u{303}.running_mean", "emoji\u{1F600}"]
        var tensors: [ExactString: SafeTensors.Tensor] = [:]
        for (i, name) in names.enumerated() { tensors[ExactString(name)] = .float64([Double(i)]) }
        let file = SafeTensors(metadata: ["quote\"": "tab\t"], tensors: tensors)
        let decoded = try SafeTensors.decode(file.encoded())
        #expect(decoded == file)
        #expect(decoded.tensors.count == names.count, "the two spellings of ñ stay two tensors")
    }
}
