import NormCore
import Testing

@testable import NormFormats

@Suite("Decode buffers: reused once let go, never changed while held")
struct DecodeBuffersTests {
    static let decoder = WireDecoder(maxMessageBytes: 1 << 20, channels: 0, groups: nil)

    func decode(_ header: String, key: String = "k", _ buffers: inout DecodeBuffers) throws -> InboundHeader {
        try Array(key.utf8).withUnsafeBytes { k in
            try Array(header.utf8).withUnsafeBytes { h in try Self.decoder.decode(keyFrame: k, headerFrame: h, reusing: &buffers) }
        }
    }

    static func address<T>(_ array: [T]) -> UnsafeRawPointer? { array.withUnsafeBytes { $0.baseAddress } }

    @Test("a header still held (a batch on a lane) keeps its bytes and shape when the next message is decoded")
    func heldHeaderUnchanged() throws {
        var buffers = DecodeBuffers()
        let first = #"{"dtype":"float32","shape":[8,4,64],"seq":1}"#
        let held = try decode(first, &buffers)
        let next = try decode(#"{"dtype":"float16","shape":[2,3],"seq":22}"#, key: "other", &buffers)
        #expect(held.raw == Array(first.utf8))
        #expect(held.descriptor.geometry.shape == [8, 4, 64])
        #expect(held.descriptor.dtype == .float32)
        #expect(held.seq == 1)
        #expect(next.raw == Array(#"{"dtype":"float16","shape":[2,3],"seq":22}"#.utf8))
        #expect(next.descriptor.geometry.shape == [2, 3])
        #expect(Self.address(held.raw) != Self.address(next.raw))
    }

    @Test("a header let go of (a batch done inline) leaves its storage to the next message")
    func storageReused() throws {
        var buffers = DecodeBuffers()
        // The first header is the longer one: storage freed and made anew for the second would
        // come from a smaller size class, at another address (a freed block of the same size is
        // handed straight back by malloc, which would hide the difference).
        let long = #"{"dtype":"float32","shape":[2,4,2],"seq":10,"source":""# + String(repeating: "x", count: 300) + #""}"#
        var header: InboundHeader? = try decode(long, &buffers)
        let rawAddress = Self.address(header!.raw)
        let shapeAddress = Self.address(header!.descriptor.geometry.shape)
        header = nil
        let next = try decode(#"{"dtype":"float32","shape":[3,4],"seq":11}"#, &buffers)
        #expect(Self.address(next.raw) == rawAddress)
        #expect(Self.address(next.descriptor.geometry.shape) == shapeAddress)
        #expect(next.raw == Array(#"{"dtype":"float32","shape":[3,4],"seq":11}"#.utf8))
        #expect(next.descriptor.geometry.shape == [3, 4])
        #expect(next.seq == 11)
    }

    @Test("a header longer than what is kept gets an array of its own: one large header does not stay allocated")
    func largeHeaderNotKept() throws {
        var buffers = DecodeBuffers()
        let padding = String(repeating: "x", count: DecodeBuffers.keptHeaderBytes)
        let large = try decode(#"{"dtype":"float32","shape":[2,3],"note":""# + padding + #""}"#, &buffers)
        #expect(large.raw.count > DecodeBuffers.keptHeaderBytes)
        #expect(large.descriptor.geometry.shape == [2, 3])
        #expect(buffers.header.capacity < DecodeBuffers.keptHeaderBytes)
        _ = try decode(#"{"dtype":"float32","shape":[2,3]}"#, &buffers)
        #expect(buffers.header.capacity < DecodeBuffers.keptHeaderBytes)
    }

    @Test("decoding with buffers gives what decoding without them gives, for every header the scan takes or leaves")
    func sameAsWithout() throws {
        var buffers = DecodeBuffers()
        let headers = [
            #"{"dtype":"float32","shape":[2,4,2]}"#, #"{"shape":[1,2,3,4,5],"dtype":"bfloat16","layout":"NHWC","x":[1,{"y":null}]}"#,
            #"{"dtype":"float64","shape":[2,3],"\u0073eq":5}"#, #" { "dtype" : "float16" , "shape" : [ 7 , 1 ] } "#,
        ]
        for text in headers {
            let with = try decode(text, &buffers)
            let without = try Array("k".utf8).withUnsafeBytes { k in
                try Array(text.utf8).withUnsafeBytes { h in try Self.decoder.decode(keyFrame: k, headerFrame: h) }
            }
            #expect(with.raw == without.raw)
            #expect(with.descriptor == without.descriptor)
            #expect(with.seq == without.seq)
            #expect(with.key == without.key)
        }
    }
}
