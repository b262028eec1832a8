import Foundation
import Testing
import ZeroMQ

@Suite("The ZeroMQ layer")
struct ZMQSocketTests {
    /// A PUSH/PULL pair over inproc on a fresh context; the context ends after `body`.
    func withPair(_ body: (ZMQSocket, ZMQSocket) throws -> Void) throws {
        let context = try ZMQContext()
        defer { context.terminate() }
        let pull = try ZMQSocket(context, .pull)
        let push = try ZMQSocket(context, .push)
        defer {
            push.close(lingerMilliseconds: 0)
            pull.close(lingerMilliseconds: 0)
        }
        try pull.bind("inproc://pair")
        try push.connect("inproc://pair")
        try body(push, pull)
    }

    @Test("terminating within a bound: true once every socket is closed; false, on time, while one is still open")
    func boundedTermination() throws {
        let finished = try ZMQContext()
        try ZMQSocket(finished, .push).close(lingerMilliseconds: 0)
        #expect(finished.terminate(within: 30))
        let stuck = try ZMQContext()
        let held = try ZMQSocket(stuck, .pull)
        let start = ContinuousClock.now
        #expect(!stuck.terminate(within: 0.2))
        #expect(ContinuousClock.now - start < .seconds(10), "returned at its bound, not when libzmq let go")
        // Lets libzmq's termination, still waiting on its own thread, finish.
        held.close(lingerMilliseconds: 0)
    }

    @Test("a multipart message arrives whole; frames beyond maxFrames are counted and released")
    func multipart() throws {
        try withPair { push, pull in
            let frames = try (0..<5).map { try ZMQMessage(Array("frame\($0)".utf8)) }
            #expect(try push.send(multipart: frames))
            let received = try #require(try pull.receiveMultipart(maxFrames: 3, dontWait: false))
            #expect(received.frameCount == 5)
            #expect(received.frames.map { String(decoding: $0.bytes, as: UTF8.self) } == ["frame0", "frame1", "frame2"])
            #expect(try pull.receiveMultipart(maxFrames: 3, dontWait: true) == nil, "the two frames left over are gone, not a next message")
        }
    }

    @Test("messages reused: received into again (frames past capacity released), refilled and sent again, and moved out whole")
    func reuse() throws {
        try withPair { push, pull in
            let slots = [ZMQMessage(), ZMQMessage(), ZMQMessage()]
            let outgoing = [ZMQMessage(), ZMQMessage(), ZMQMessage()]
            let buffer = ZMQBuffer(count: 4096)
            buffer.bytes.initializeMemory(as: UInt8.self, repeating: 7, count: 4096)
            for round in 0..<3 {
                // A big frame, a zero-copy frame, and in round 1 two frames more than the slots hold.
                try outgoing[0].refill(copying: "key\(round)")
                try outgoing[1].refill(copying: [UInt8](repeating: UInt8(round), count: 100 + round))
                try outgoing[2].refill(sending: buffer)
                let extra = round == 1 ? try (0..<2).map { _ in try ZMQMessage([1]) } : []
                #expect(try push.send(multipart: outgoing + extra))
                #expect(outgoing.allSatisfy { $0.count == 0 }, "libzmq empties what it sends")
                #expect(try pull.receiveMultipart(into: slots, dontWait: false) == 3 + extra.count)
                #expect(String(decoding: slots[0].bytes, as: UTF8.self) == "key\(round)")
                #expect(slots[1].bytes == [UInt8](repeating: UInt8(round), count: 100 + round))
                #expect(slots[2].count == 4096 && slots[2].bytes.allSatisfy { $0 == 7 })
            }
            #expect(try pull.receiveMultipart(into: slots, dontWait: true) == nil)
            // A frame moved out keeps its bytes and leaves the slot empty.
            try outgoing[0].refill(copying: "k")
            try outgoing[1].refill(copying: "h")
            try outgoing[2].refill(copying: [9, 9, 9])
            #expect(try push.send(multipart: outgoing))
            #expect(try pull.receiveMultipart(into: slots, dontWait: false) == 3)
            let moved = ZMQMessage(taking: slots[2])
            #expect(moved.bytes == [9, 9, 9] && slots[2].count == 0)
            // A refill releases what it held before: a zero-copy buffer never sent is let go.
            weak var released: ZMQBuffer?
            do {
                let spare = ZMQBuffer(count: 64)
                released = spare
                try outgoing[2].refill(sending: spare)
            }
            #expect(released != nil, "the message holds the buffer")
            try outgoing[2].refill(copying: [1])
            #expect(released == nil, "a refill releases what the message held")
        }
    }

    @Test("dontWait on an empty socket returns nil; poll reports readable only once a message is queued")
    func pollAndDontWait() throws {
        try withPair { push, pull in
            #expect(try pull.receiveMultipart(maxFrames: 3, dontWait: true) == nil)
            #expect(try zmqPoll([(.socket(pull), .readable)], timeoutMilliseconds: 0) == [[]])
            #expect(try push.send(ZMQMessage(Array("x".utf8))))
            let ready = try zmqPoll([(.socket(pull), .readable)], timeoutMilliseconds: 5000)
            #expect(ready[0].contains(.readable))
        }
    }

    @Test("a full socket refuses a dontWait send with false, never blocks, and nothing is half sent")
    func fullSocket() throws {
        let context = try ZMQContext()
        defer { context.terminate() }
        let push = try ZMQSocket(context, .push)
        defer { push.close(lingerMilliseconds: 0) }
        try push.setHighWaterMarks(send: 1)
        try push.bind("inproc://nobody-reads")
        // No peer yet: a PUSH socket with no pipe cannot queue anything.
        #expect(try push.send(multipart: [ZMQMessage(Array("a".utf8)), ZMQMessage(Array("b".utf8))], dontWait: true) == false)
    }

    @Test("errors carry errno, libzmq's text and what was being done")
    func errors() throws {
        let context = try ZMQContext()
        defer { context.terminate() }
        let socket = try ZMQSocket(context, .pull)
        defer { socket.close() }
        do {
            try socket.bind("nosuch://x")
            Issue.record("binding an unknown transport succeeded")
        } catch {
            #expect(error.code == EPROTONOSUPPORT)
            #expect(error.description.contains("bind nosuch://x"))
            #expect(!error.message.isEmpty)
        }
        try socket.bind("inproc://taken")
        let other = try ZMQSocket(context, .pull)
        defer { other.close() }
        #expect(throws: ZMQError.self) { try other.bind("inproc://taken") }
    }

    @Test("close is idempotent and a tcp wildcard bind reports the port it got")
    func closeAndLastEndpoint() throws {
        let context = try ZMQContext()
        defer { context.terminate() }
        let socket = try ZMQSocket(context, .pull)
        try socket.bind("tcp://127.0.0.1:*")
        let endpoint = socket.lastEndpoint
        #expect(endpoint.hasPrefix("tcp://127.0.0.1:") && Int(endpoint.split(separator: ":").last ?? "") ?? 0 > 0)
        socket.close(lingerMilliseconds: 0)
        socket.close(lingerMilliseconds: 0)
    }

    @Test("CURVE keys: a generated pair is valid Z85, the public key follows from the secret, Z85 round-trips")
    func curveKeys() throws {
        let pair = try ZMQCurve.keyPair()
        #expect(ZMQCurve.isValidKey(pair.publicKey) && ZMQCurve.isValidKey(pair.secretKey))
        #expect(try ZMQCurve.publicKey(forSecret: pair.secretKey) == pair.publicKey)
        let bytes = try #require(ZMQCurve.decode(pair.publicKey))
        #expect(bytes.count == 32 && ZMQCurve.encode(bytes) == pair.publicKey)
        #expect(!ZMQCurve.isValidKey("short") && ZMQCurve.decode("not z85 at all, forty characters long!!") == nil)
    }

    @Test("a pooled buffer libzmq lets go of returns to its pool whole; one still held elsewhere returns only its bytes, later")
    func bufferRecycled() throws {
        try withPair { push, pull in
            let pool = ZMQBufferPool(limit: 2)
            var sent: ZMQBuffer? = pool.buffer(count: 256)
            let identity = ObjectIdentifier(sent!)
            sent!.bytes.initializeMemory(as: UInt8.self, repeating: 5, count: 256)
            #expect(try push.send(multipart: [try ZMQMessage(string: "k"), try ZMQMessage(sending: sent!)]))
            sent = nil
            do {
                let received = try #require(try pull.receiveMultipart(maxFrames: 2, dontWait: false))
                #expect(received.frames[1].bytes == [UInt8](repeating: 5, count: 256))
                #expect(pool.parked.whole == 0, "an inproc receiver still reads the sender's bytes")
            }
            #expect(pool.parked.whole == 1)
            let reused = pool.buffer(count: 200)
            #expect(ObjectIdentifier(reused) == identity && reused.count == 200 && pool.parked.whole == 0)

            // Still held by the caller when libzmq lets go: not parked then; its bytes come back when the caller lets go.
            var held: ZMQBuffer? = reused
            let address = reused.bytes
            #expect(try push.send(multipart: [try ZMQMessage(string: "k"), try ZMQMessage(sending: held!)]))
            #expect(try pull.receiveMultipart(maxFrames: 2, dontWait: false)?.frameCount == 2)
            #expect(pool.parked.whole == 0)
            held = nil
            _ = consume reused
            let again = pool.buffer(count: 256)
            #expect(again.bytes == address && again.count == 256)
        }
    }

    @Test("pooled buffers come back for reuse, at most `limit` of them")
    func bufferPool() throws {
        let pool = ZMQBufferPool(limit: 1)
        var first: ZMQBuffer? = pool.buffer(count: 1024)
        let address = first!.bytes
        first = nil
        let second = pool.buffer(count: 512)
        #expect(second.bytes == address, "a freed buffer large enough is reused")
        #expect(second.count == 512)
    }

    @Test("a pool parks at most `limit` buffers, and up to `smallLimit` of at most `smallTotal` bytes when they are small")
    func bufferPoolBounds() throws {
        let pool = ZMQBufferPool(limit: 1, smallLimit: 3, smallBytes: 100)
        var large: [ZMQBuffer] = (0..<3).map { _ in pool.buffer(count: 200) }
        large.removeAll()
        #expect(pool.parked.bytesOnly == 1)
        var small: [ZMQBuffer] = (0..<5).map { _ in pool.buffer(count: 50) }
        small.removeAll()
        #expect(pool.parked.bytesOnly == 3, "two more small ones, then full")
        let bounded = ZMQBufferPool(limit: 1, smallLimit: 10, smallBytes: 100, smallTotal: 250)
        var some: [ZMQBuffer] = (0..<6).map { _ in bounded.buffer(count: 80) }
        some.removeAll()
        #expect(bounded.parked.bytesOnly == 3, "the first is within the limit of any size; then small ones up to 250 bytes in all")
        var kept: [ZMQBuffer] = (0..<2).map { _ in bounded.buffer(count: 80) }
        #expect(bounded.parked.bytesOnly == 1)
        kept.removeAll()
        #expect(bounded.parked.bytesOnly == 3, "buffers taken out leave room for as many")
    }
}
