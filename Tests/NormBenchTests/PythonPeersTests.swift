import Foundation
import NormFormats
import Testing
import ZeroMQ

@testable import NormBench

@Suite("The Python peers normd bench --python compares with")
struct PythonPeersTests {
    /// Starts `target`'s script bound at two ipc:// endpoints, sends `batches` through it and
    /// returns what came out (header text and float32 values), then ends the peer.
    func roundTrip(_ target: String, shape: [Int], batches: [[Float]]) throws -> [(header: String, values: [Float])] {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("normd-peer-\(getpid())-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let input = "ipc://\(directory.path)/in"
        let output = "ipc://\(directory.path)/out"
        let peer = try #require(PythonPeers.process(target, input: input, output: output, hwm: 16, perKey: false))
        try peer.run()
        defer {
            peer.terminate()
            peer.waitUntilExit()
        }
        #expect(waitUntilReady(peer, seconds: 30) { FileManager.default.fileExists(atPath: "\(directory.path)/out") })
        let context = try ZMQContext()
        defer { context.terminate() }
        let push = try ZMQSocket(context, .push)
        let pull = try ZMQSocket(context, .pull)
        defer {
            push.close(lingerMilliseconds: 0)
            pull.close(lingerMilliseconds: 0)
        }
        try pull.set(ZMQOption.receiveTimeout, 30_000)
        try push.connect(input)
        try pull.connect(output)
        var results: [(String, [Float])] = []
        for (seq, values) in batches.enumerated() {
            let header = "{\"dtype\":\"float32\",\"shape\":[\(shape.map(String.init).joined(separator: ","))],\"t\":1000000000000000042,\"seq\":\(seq)}"
            let payload = values.withUnsafeBytes { Array($0) }
            #expect(try push.send(multipart: [try ZMQMessage(Array("k".utf8)), try ZMQMessage(Array(header.utf8)), try ZMQMessage(payload)]))
            let message = try #require(try pull.receiveMultipart(maxFrames: 3, dontWait: false))
            #expect(message.frameCount == 3)
            let out = message.frames[2].bytes
            let floats = stride(from: 0, to: out.count, by: 4).map { i in Float(bitPattern: UInt32(out[i]) | UInt32(out[i + 1]) << 8 | UInt32(out[i + 2]) << 16 | UInt32(out[i + 3]) << 24) }
            results.append((String(decoding: message.frames[1].bytes, as: UTF8.self), floats))
        }
        return results
    }

    static func batch(_ shape: [Int], seed: UInt32) -> [Float] {
        var state = seed
        return (0..<shape.reduce(1, *)).map { i in
            state = state &* 1_664_525 &+ 1_013_904_223
            return Float(state >> 8) / Float(1 << 24) * 6 - 1 + Float(i % shape[1])
        }
    }

    @Test("the NumPy peer is BatchNorm in training mode: each channel of its output has mean 0 and variance 1, the send time survives")
    func normalizerNormalizes() throws {
        let shape = [4, 3, 5]
        let input = Self.batch(shape, seed: 3)
        let output = try roundTrip(PythonPeers.normalizerTarget, shape: shape, batches: [input])
        let (header, values) = try #require(output.first)
        #expect(values.count == input.count)
        // The consumer finds latency by the send time's digits right after "t":.
        #expect(header.withRawBytes { LoadDriver.sendTime(in: $0) } == 42)
        #expect(try JSONParser.parse(header)["norm"]?["kind"] == .string("batch"))
        // Independent of the script: per channel, over N and the spatial axis, in Double.
        for channel in 0..<shape[1] {
            let indices = (0..<shape[0]).flatMap { n in (0..<shape[2]).map { n * shape[1] * shape[2] + channel * shape[2] + $0 } }
            let x = indices.map { Double(input[$0]) }
            let mean = x.reduce(0, +) / Double(x.count)
            let variance = x.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(x.count)
            for (index, value) in zip(indices, x) {
                #expect(abs(Double(values[index]) - (value - mean) / (variance + 1e-5).squareRoot()) < 1e-5)
            }
        }
    }

    @Test("the pyzmq forwarder passes every frame on unchanged")
    func forwarderPassesThrough() throws {
        let shape = [2, 4, 2]
        let batches = [Self.batch(shape, seed: 1), Self.batch(shape, seed: 2)]
        let output = try roundTrip(PythonPeers.forwarderTarget, shape: shape, batches: batches)
        #expect(output.map(\.values) == batches)
        #expect(output.allSatisfy { $0.header.hasSuffix("}") && !$0.header.contains("norm") })
    }
}

extension String {
    /// Lets a test hand a header's UTF-8 to a function that reads raw bytes.
    fileprivate func withRawBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        var copy = self
        return copy.withUTF8 { body(UnsafeRawBufferPointer($0)) }
    }
}
