import Foundation
import Locking
import Logging
import ServiceLifecycle
import Synchronization
import ZeroMQ

/// ZeroMQ's authentication protocol (ZAP, RFC 27) for CURVE bind sides: one handler per context
/// on `inproc://zeromq.zap.01`, answering 200 only for client keys on the socket's domain list.
/// A domain with no allowed key refuses everyone. The handler socket is bound when built (before
/// any pipeline binds a CURVE socket); as a service it answers on a thread of its own.
public final class ZAPAuthenticator: Service, Sendable {
    private let allowed = ObservedMutex<[String: Set<String>]>([:])
    private let stopRequested = Atomic<Bool>(false)
    /// The REP socket, used only by the service's thread once it runs.
    private let socket: UncheckedTransfer<ZMQSocket>
    let logger: Logger

    public init(context: ZMQContext, logger: Logger) throws(ZMQError) {
        self.logger = logger
        let socket = try ZMQSocket(context, .rep)
        try socket.setLinger(milliseconds: 0)
        try socket.bind("inproc://zeromq.zap.01")
        self.socket = UncheckedTransfer(socket)
    }

    /// Sets a domain's allowed Z85 public keys (replacing what it had).
    public func allow(domain: String, keys: Set<String>) {
        allowed.withLock { $0[domain] = keys }
    }

    func isAllowed(domain: String, publicKey: [UInt8]) -> Bool {
        guard let key = ZMQCurve.encode(publicKey) else { return false }
        return allowed.withLock { $0[domain]?.contains(key) ?? false }
    }

    public func run() async {
        await ThreadService(
            name: "normd.zap",
            loop: { [self] in
                serve(socket.value)
                close()
            }, stop: { [self] in stopRequested.store(true, ordering: .relaxed) }
        ).run()
    }

    /// Closes the handler socket: after the service's loop, or when the daemon could not start
    /// and the service never ran. The context cannot terminate while it is open.
    func close() { socket.value.close() }

    private func serve(_ socket: ZMQSocket) {
        while !stopRequested.load(ordering: .relaxed) {
            guard let ready = try? zmqPoll([(.socket(socket), .readable)], timeoutMilliseconds: 100), ready[0].contains(.readable),
                let request = try? socket.receiveMultipart(maxFrames: 8, dontWait: true)
            else { continue }
            let frames = request.frames.map(\.bytes)
            guard frames.count >= 6 else { continue }
            let domain = String(decoding: frames[2], as: UTF8.self)
            let mechanism = String(decoding: frames[5], as: UTF8.self)
            let ok = mechanism == "CURVE" && frames.count >= 7 && isAllowed(domain: domain, publicKey: frames[6])
            if !ok { logger.warning("refused a CURVE client", metadata: ["domain": "\(domain)", "address": "\(String(decoding: frames[3], as: UTF8.self))"]) }
            let reply = [
                Array("1.0".utf8), frames[1], Array((ok ? "200" : "400").utf8), Array((ok ? "OK" : "not allowed").utf8), Array((ok ? "client" : "").utf8), [],
            ]
            _ = try? socket.send(multipart: reply.map { try ZMQMessage($0) })
        }
    }
}
