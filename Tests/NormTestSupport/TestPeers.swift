import Foundation
import NormDaemon
import NormFormats
import ZeroMQ

/// Producer and consumer sockets for the tests, on one context: their own, or an in-process
/// daemon's (which `inproc://` needs).
public final class TestPeers {
    public let context: ZMQContext
    private let ownsContext: Bool
    public var sockets: [ZMQSocket] = []

    public init(context: ZMQContext? = nil) {
        self.context = context ?? (try! ZMQContext())
        ownsContext = context == nil
    }

    public func socket(_ type: ZMQSocketType, connect endpoints: [String] = [], bind bindings: [String] = [], subscribe: [String]? = nil) throws -> ZMQSocket {
        let socket = try ZMQSocket(context, type)
        try socket.setLinger(milliseconds: 0)
        try socket.set(ZMQOption.receiveTimeout, 5000)
        try socket.set(ZMQOption.sendTimeout, 5000)
        if let subscribe { for topic in subscribe { try socket.subscribe(Array(topic.utf8)) } }
        for endpoint in bindings { try socket.bind(endpoint) }
        for endpoint in endpoints { try socket.connect(endpoint) }
        sockets.append(socket)
        return socket
    }

    /// Closes every socket made here (a context cannot end while one is open).
    public func closeAll() {
        for socket in sockets { socket.close(lingerMilliseconds: 0) }
        sockets = []
    }

    deinit {
        closeAll()
        if ownsContext { context.terminate() }
    }

    /// A loopback TCP port the kernel reports free right now (bound to port 0, then released),
    /// so that parallel runs of the suite do not collide on a port derived from the pid.
    public static func freeLoopbackPort() throws -> Int {
        let fd = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { Glibc.close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw TestFailure("cannot bind a loopback port: errno \(errno)") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

public struct Frames {
    public let key: String
    public let header: JSONValue
    public let payload: [UInt8]

    public init(key: String, header: JSONValue, payload: [UInt8]) {
        self.key = key
        self.header = header
        self.payload = payload
    }

    public var floats: [Float] { payload.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) } }
}

extension ZMQSocket {
    public func send(frames: [[UInt8]]) throws {
        let messages = try frames.map { try ZMQMessage($0) }
        guard try send(multipart: messages) else { throw TestFailure("send timed out") }
    }

    public func sendTensor(key: String, header: String, floats: [Float]) throws {
        try send(frames: [Array(key.utf8), Array(header.utf8), floats.withUnsafeBytes { Array($0) }])
    }

    /// One multipart message, or nil when none arrives before the receive timeout.
    public func receiveFrames() throws -> [[UInt8]]? {
        guard let message = try receiveMultipart(maxFrames: 16, dontWait: false) else { return nil }
        return message.frames.map(\.bytes)
    }

    public func receiveTensor() throws -> Frames {
        guard let frames = try receiveFrames() else { throw TestFailure("no message arrived") }
        guard frames.count == 3 else { throw TestFailure("expected 3 frames, got \(frames.count)") }
        return Frames(key: String(decoding: frames[0], as: UTF8.self), header: try JSONParser.parse(frames[1]), payload: frames[2])
    }
}

/// BatchNorm train output for `[N, C, S]` NCHW data, written from the formula in float64.
public func expectedBatchNorm(_ x: [Float], n: Int, c: Int, s: Int, eps: Double = 1e-5) -> [Double] {
    var y = [Double](repeating: 0, count: x.count)
    for ch in 0..<c {
        var values: [Double] = []
        for i in 0..<n { for j in 0..<s { values.append(Double(x[(i * c + ch) * s + j])) } }
        let mean = values.reduce(0, +) / Double(values.count)
        let variance = values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(values.count)
        for i in 0..<n {
            for j in 0..<s {
                let k = (i * c + ch) * s + j
                y[k] = (Double(x[k]) - mean) / (variance + eps).squareRoot()
            }
        }
    }
    return y
}

public func maxError(_ actual: [Float], _ expected: [Double]) -> Double {
    zip(actual, expected).map { abs(Double($0) - $1) }.max() ?? .infinity
}
