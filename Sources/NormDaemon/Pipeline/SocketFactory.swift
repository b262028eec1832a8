import Dispatch
import Foundation
import ZeroMQ

/// Creates a pipeline's sockets with the options the contract asks for, set before any
/// bind or connect (ZeroMQ applies HWMs only to later connections).
struct SocketFactory {
    let context: ZMQContext
    let pipeline: String
    let authenticator: ZAPAuthenticator

    /// Send timeout of a blocking output: short, so a pipeline waiting on a full output stays responsive.
    static let blockingSendTimeoutMs: Int32 = 100

    func input(_ settings: InputSettings) throws -> ZMQSocket {
        let socket = try ZMQSocket(context, settings.socket == .sub ? .sub : .pull)
        try socket.setHighWaterMarks(receive: Int32(clamping: settings.hwm))
        try socket.setMaxMessageSize(Int64(settings.maxMessageBytes))
        try socket.setLinger(milliseconds: 0)
        if settings.socket == .sub {
            for topic in settings.topics { try socket.subscribe(Array(topic.utf8)) }
        }
        try applyCurve(settings.curve, to: socket, domain: "\(pipeline)/input")
        try attach(socket, bind: settings.bind, connect: settings.connect)
        return socket
    }

    func output(_ settings: OutputSettings) throws -> ZMQSocket {
        let socket = try ZMQSocket(context, settings.socket == .pub ? .pub : .push)
        try socket.setHighWaterMarks(send: Int32(clamping: settings.hwm))
        if settings.socket == .pub { try socket.set(ZMQOption.xpubNoDrop, 1) }
        try socket.set(ZMQOption.sendTimeout, Self.blockingSendTimeoutMs)
        if !settings.connect.isEmpty { try socket.set(ZMQOption.immediate, 1) }
        try applyCurve(settings.curve, to: socket, domain: "\(pipeline)/output")
        try attach(socket, bind: settings.bind, connect: settings.connect)
        return socket
    }

    /// PUSH, bound; never blocks the pipeline (sends use DONTWAIT and count what is dropped).
    func deadLetter(_ settings: OutputSettings) throws -> ZMQSocket {
        let socket = try ZMQSocket(context, .push)
        try socket.setHighWaterMarks(send: Int32(clamping: settings.hwm))
        try socket.setLinger(milliseconds: 0)
        try applyCurve(settings.curve, to: socket, domain: "\(pipeline)/dead_letter")
        try Self.refuseLiveIPC(settings.deadLetter)
        try Self.bind(socket, settings.deadLetter)
        return socket
    }

    private func attach(_ socket: ZMQSocket, bind: [String], connect: [String]) throws {
        for endpoint in bind {
            try Self.refuseLiveIPC(endpoint)
            try Self.bind(socket, endpoint)
        }
        for endpoint in connect { try socket.connect(endpoint) }
    }

    private func applyCurve(_ curve: CurveSettings?, to socket: ZMQSocket, domain: String) throws {
        guard let curve else { return }
        let certificate = try curve.certificate ?? CurveCertificate.load(secretFile: curve.secretKeyFile)
        guard let secret = certificate.secretKey else {
            throw DaemonError(.configuration, "\(curve.secretKeyFile) holds no secret-key")
        }
        if curve.serverPublicKey.isEmpty {
            let allowed = try CurveCertificate.allowedKeys(curve)
            authenticator.allow(domain: domain, keys: allowed)
            try socket.set(ZMQOption.zapDomain, string: domain)
            try socket.set(ZMQOption.curveServer, 1)
            try socket.set(ZMQOption.curveSecretKey, string: secret)
        } else {
            try socket.set(ZMQOption.curveServerKey, string: curve.serverPublicKey)
            try socket.set(ZMQOption.curvePublicKey, string: certificate.publicKey)
            try socket.set(ZMQOption.curveSecretKey, string: secret)
        }
    }

    /// libzmq binds an ipc:// path by unlinking whatever is there, so binding over a live process's
    /// socket silently steals its traffic. A path where a process still accepts connections is refused;
    /// a stale socket (nobody listening) is left for libzmq to replace. A pipeline restarted by a reload
    /// finds its own old socket listening for a moment after closing it (libzmq closes it in its I/O
    /// thread), so the path is asked again for up to `bindPatienceSeconds`, as a tcp bind is retried.
    /// What is there and is not a socket (a file, a folder, a link) is refused too: libzmq would
    /// delete it, and an endpoint mistyped as a file's path must not cost the file.
    static func refuseLiveIPC(_ endpoint: String) throws(DaemonError) {
        guard endpoint.hasPrefix("ipc://") else { return }
        let path = String(endpoint.dropFirst("ipc://".count))
        if !path.hasPrefix("@"), let other = UnixSocket.nonSocket(at: path) {
            throw DaemonError(.socket, "\(endpoint): \(path) is \(other), not a socket; normd replaces only a stale socket there")
        }
        let deadline = MonotonicClock.deadline(after: bindPatienceSeconds)
        var pause: UInt32 = 5_000
        while UnixSocket.isListening(path: path) {
            guard MonotonicClock.nanoseconds() < deadline else {
                throw DaemonError(.socket, "another process is listening on \(endpoint); normd will not take it over")
            }
            usleep(pause)
            pause = min(pause * 2, 200_000)
        }
    }

    /// libzmq closes a socket in its I/O thread after zmq_close returns, so a pipeline restarted by
    /// a reload can find its own old tcp port still taken for a moment. EADDRINUSE is retried with
    /// a doubling back-off for up to `bindPatience`; another process holding the port still fails.
    static let bindPatienceSeconds = 3.0

    static func bind(_ socket: ZMQSocket, _ endpoint: String) throws(ZMQError) {
        let deadline = MonotonicClock.deadline(after: bindPatienceSeconds)
        var pause: UInt32 = 5_000
        while true {
            do {
                try socket.bind(endpoint)
                return
            } catch  where error.code == EADDRINUSE && MonotonicClock.nanoseconds() < deadline {
                usleep(pause)
                pause = min(pause * 2, 200_000)
            }
        }
    }
}
