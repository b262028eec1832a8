import Foundation
import Testing

@testable import NormDaemon

@Suite("Control command line reading")
struct ControlLineTests {
    /// Writes `bytes` into one end of a socket pair, optionally closes it, and reads a line from
    /// the other end.
    func read(_ bytes: [UInt8], close closing: Bool = true, limit: Int = 64, deadlineSeconds: Double = 10) throws -> Result<String, UnixSocket.LineError> {
        var ends: [Int32] = [0, 0]
        try #require(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &ends) == 0)
        defer { close(ends[0]) }
        if !bytes.isEmpty { try #require(write(ends[1], bytes, bytes.count) == bytes.count) }
        if closing { close(ends[1]) }
        defer { if !closing { close(ends[1]) } }
        let deadline = MonotonicClock.deadline(after: deadlineSeconds)
        return UnixSocket.readLine(ends[0], limit: limit, deadline: deadline)
    }

    @Test("a line is read up to its newline; what follows it is ignored")
    func line() throws {
        #expect(try read(Array("stats\n".utf8)) == .success("stats"))
        #expect(try read(Array("show bn \"é\"\nrest".utf8)) == .success("show bn \"é\""))
        #expect(try read(Array((String(repeating: "a", count: 64) + "\n").utf8)) == .success(String(repeating: "a", count: 64)))
    }

    @Test("each way a line can fail says which: not UTF-8, too long, ended early, too slow")
    func failures() throws {
        #expect(try read([0x73, 0xFF, 0xFE, 0x0A]) == .failure(.notUTF8))
        #expect(try read(Array((String(repeating: "a", count: 65) + "\n").utf8)) == .failure(.tooLong(limit: 64)))
        // Longer than the limit with no newline at all: refused once past the limit, without waiting.
        #expect(try read(Array(repeating: 0x61, count: 2000), close: false) == .failure(.tooLong(limit: 64)))
        #expect(try read(Array("stats".utf8)) == .failure(.closed))
        #expect(try read([]) == .failure(.closed))
        #expect(try read(Array("sta".utf8), close: false, deadlineSeconds: 0) == .failure(.timedOut))
    }

    @Test("the error reply's detail names the cause")
    func details() {
        #expect(UnixSocket.LineError.notUTF8.detail(deadlineSeconds: 5) == "the command line is not UTF-8")
        #expect(UnixSocket.LineError.tooLong(limit: 4096).detail(deadlineSeconds: 5) == "the command line is longer than 4096 bytes")
        #expect(UnixSocket.LineError.timedOut.detail(deadlineSeconds: 5).contains("within 5 s"))
        #expect(UnixSocket.LineError.closed.detail(deadlineSeconds: 5).contains("before a newline"))
    }
}
