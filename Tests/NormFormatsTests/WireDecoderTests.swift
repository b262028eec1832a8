import NormCore
import NormFormats
import Testing

@Suite("Wire decoding: each rejection at the wire")
struct WireDecoderTests {
    static let decoder = WireDecoder(maxMessageBytes: 1 << 20, channels: 0, groups: nil)

    func reason(_ header: String, decoder: WireDecoder = Self.decoder) -> RejectReason? {
        reason(Array("k".utf8), Array(header.utf8), decoder: decoder)
    }

    func reason(_ key: [UInt8], _ header: String) -> RejectReason? { reason(key, Array(header.utf8)) }

    func reason(_ key: [UInt8], _ header: [UInt8], decoder: WireDecoder = Self.decoder) -> RejectReason? {
        key.withUnsafeBytes { k -> RejectReason? in
            header.withUnsafeBytes { h -> RejectReason? in
                do {
                    _ = try decoder.decode(keyFrame: k, headerFrame: h)
                    return nil
                } catch let rejection as Rejection {
                    return rejection.reason
                } catch {
                    return nil
                }
            }
        }
    }

    @Test("frames: exactly three")
    func frames() {
        #expect(throws: Rejection(.frames, "expected 3 frames, got 2")) { try Self.decoder.checkFrames(2) }
        #expect(throws: Rejection(.frames, "expected 3 frames, got 4")) { try Self.decoder.checkFrames(4) }
        #expect(throws: Never.self) { try Self.decoder.checkFrames(3) }
    }

    @Test("key: at most 255 bytes of UTF-8")
    func key() {
        let ok = #"{"dtype":"float32","shape":[2,3]}"#
        #expect(reason(Array(repeating: UInt8(ascii: "a"), count: 255), ok) == nil)
        #expect(reason(Array(repeating: UInt8(ascii: "a"), count: 256), ok) == .key)
        #expect(reason([0xff, 0xfe], Array(ok.utf8)) == .key)
    }

    @Test("key: ASCII and multi-byte UTF-8 keys come through byte for byte; broken sequences are refused")
    func keyBytes() throws {
        let ok = Array(#"{"dtype":"float32","shape":[2,3]}"#.utf8)
        for key in ["cam-0/left", "", "ñ", "n\u{303}", "カメラ", "a\u{0}b", "🎥:" + String(repeating: "x", count: 200)] {
            let bytes = Array(key.utf8)
            let decoded = try bytes.withUnsafeBytes { k in try ok.withUnsafeBytes { h in try Self.decoder.decode(keyFrame: k, headerFrame: h) } }
            #expect(Array(decoded.key.utf8) == bytes)
        }
        // ASCII then a lone continuation byte, a truncated sequence, an overlong encoding, a surrogate.
        for key: [UInt8] in [[0x61, 0x80], [0x61, 0xe3, 0x82], [0xc0, 0xaf], [0xed, 0xa0, 0x80]] {
            #expect(reason(key, ok) == .key)
        }
    }

    @Test("header: UTF-8, JSON, an object, seq a u64, nesting bounded")
    func header() {
        #expect(reason([UInt8(ascii: "k")], [0xc3, 0x28]) == .header)
        #expect(reason("not json") == .header)
        #expect(reason("[1,2]") == .header)
        #expect(reason(#"{"dtype":"float32","shape":[2,3],"seq":-1}"#) == .header)
        #expect(reason(#"{"dtype":"float32","shape":[2,3],"seq":1.5}"#) == .header)
        let deep = String(repeating: "[", count: 40) + String(repeating: "]", count: 40)
        #expect(reason(#"{"dtype":"float32","shape":[2,3],"x":\#(deep)}"#) == .header)
        #expect(reason(#"{"dtype":"float32","shape":[2,3],"seq":18446744073709551615}"#) == nil)
    }

    @Test("dtype: present, a string, one of the four")
    func dtype() {
        #expect(reason(#"{"shape":[2,3]}"#) == .dtype)
        #expect(reason(#"{"dtype":32,"shape":[2,3]}"#) == .dtype)
        #expect(reason(#"{"dtype":"int8","shape":[2,3]}"#) == .dtype)
        for dtype in ["float32", "float64", "float16", "bfloat16"] { #expect(reason(#"{"dtype":"\#(dtype)","shape":[2,3]}"#) == nil) }
    }

    @Test("shape: 2 to 5 positive integers whose byte count fits")
    func shape() {
        #expect(reason(#"{"dtype":"float32"}"#) == .shape)
        #expect(reason(#"{"dtype":"float32","shape":[6]}"#) == .shape)
        #expect(reason(#"{"dtype":"float32","shape":[1,2,3,4,5,6]}"#) == .shape)
        #expect(reason(#"{"dtype":"float32","shape":[2,0]}"#) == .shape)
        #expect(reason(#"{"dtype":"float32","shape":[2,-3]}"#) == .shape)
        #expect(reason(#"{"dtype":"float32","shape":[2,"3"]}"#) == .shape)
        #expect(reason(#"{"dtype":"float64","shape":[4294967296,4294967296,4]}"#) == .shape)
    }

    @Test("too_large: a batch larger than max_message_bytes, before any allocation")
    func tooLarge() {
        #expect(reason(#"{"dtype":"float32","shape":[1024,257]}"#) == .tooLarge)
        #expect(reason(#"{"dtype":"float32","shape":[1024,256]}"#) == nil)
    }

    @Test("layout: NCHW or NHWC only")
    func layout() {
        #expect(reason(#"{"dtype":"float32","shape":[2,3],"layout":"CHWN"}"#) == .layout)
        #expect(reason(#"{"dtype":"float32","shape":[2,3],"layout":3}"#) == .layout)
        #expect(reason(#"{"dtype":"float32","shape":[2,3,4],"layout":"NHWC"}"#) == nil)
    }

    @Test("channels: the configured count, and groups dividing it")
    func channels() {
        let fixed = WireDecoder(maxMessageBytes: 1 << 20, channels: 4, groups: nil)
        #expect(reason(#"{"dtype":"float32","shape":[2,3]}"#, decoder: fixed) == .channels)
        #expect(reason(#"{"dtype":"float32","shape":[2,4]}"#, decoder: fixed) == nil)
        let grouped = WireDecoder(maxMessageBytes: 1 << 20, channels: 0, groups: 4)
        #expect(reason(#"{"dtype":"float32","shape":[2,6]}"#, decoder: grouped) == .channels)
        #expect(reason(#"{"dtype":"float32","shape":[2,8]}"#, decoder: grouped) == nil)
    }

    @Test("the first failure in the contract's order wins")
    func order() {
        // Bad dtype and bad shape and bad layout: dtype is checked first.
        #expect(reason(#"{"dtype":"int8","shape":[0],"layout":"X"}"#) == .dtype)
        // Good dtype, bad shape and bad layout: shape.
        #expect(reason(#"{"dtype":"float32","shape":[0],"layout":"X"}"#) == .shape)
    }
}
