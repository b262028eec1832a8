import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// The optional HTTP listener of `daemon.metrics_listen`: `GET /metrics` (and `HEAD`) answers the
/// same Prometheus text as `normd ctl metrics`, for a Prometheus server to scrape. Nothing else is
/// served; no control command is reachable over the network.
///
/// Unauthenticated peers must not be able to take the daemon's descriptors: connections are capped
/// (like HAProxy's `maxconn`; over the cap a connection is closed at once), each has one deadline
/// for its whole life (like nginx's `client_header_timeout`, so a trickling client cannot hold one
/// open), and NIO's accept back-off waits out `EMFILE` instead of spinning.
final class MetricsListener: Sendable {
    private let group: MultiThreadedEventLoopGroup
    private let channel: any Channel
    private let slots: ConnectionSlots

    /// How long one connection may live: reading the request, rendering, writing the answer.
    static let connectionDeadline = TimeAmount.seconds(10)

    /// Connections served at once: a quarter of the descriptors left after a reserve of 128 for
    /// state files, the control socket and ZeroMQ, between 1 and 64.
    static func connectionLimit(descriptorLimit: Int) -> Int { max(1, min(64, (descriptorLimit - 128) / 4)) }

    init(host: String, port: Int, render: @escaping @Sendable () -> String, logger: Logger) throws {
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let limit = Self.connectionLimit(descriptorLimit: DescriptorLimit.soft)
        let slots = ConnectionSlots(limit: limit)
        self.slots = slots
        let refusals = RateLimitedLog(logger: logger, perInterval: 1, intervalSeconds: 60)
        do {
            channel = try ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 16)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelInitializer { channel in
                    guard slots.take() else {
                        refusals.log("metrics listener at its limit of \(limit) connections; closing new ones")
                        return channel.close()
                    }
                    channel.closeFuture.whenComplete { _ in slots.give() }
                    channel.eventLoop.scheduleTask(in: Self.connectionDeadline) { channel.close(promise: nil) }
                    return channel.pipeline.configureHTTPServerPipeline().flatMap {
                        channel.pipeline.addHandler(MetricsHandler(render: render))
                    }
                }
                .bind(host: host, port: port)
                .wait()
        } catch {
            try? group.syncShutdownGracefully()
            throw DaemonError(.socket, "cannot listen for metrics on \(host):\(port): \(error)")
        }
        logger.info("serving GET /metrics", metadata: ["listen": "\(host):\(port)", "max_connections": "\(limit)"])
    }

    var port: Int? { channel.localAddress?.port }

    var openConnections: Int { slots.count }

    func stop() {
        try? channel.close().wait()
        try? group.syncShutdownGracefully()
    }
}

/// Connections open now, against a limit.
private final class ConnectionSlots: Sendable {
    let limit: Int
    private let open = Atomic<Int>(0)

    init(limit: Int) { self.limit = limit }

    func take() -> Bool {
        guard open.wrappingAdd(1, ordering: .relaxed).newValue > limit else { return true }
        open.wrappingSubtract(1, ordering: .relaxed)
        return false
    }

    func give() { open.wrappingSubtract(1, ordering: .relaxed) }

    var count: Int { open.load(ordering: .relaxed) }
}

private final class MetricsHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart
    let render: @Sendable () -> String

    init(render: @escaping @Sendable () -> String) { self.render = render }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(let request) = unwrapInboundIn(data) else { return }
        let path = request.uri.split(separator: "?").first ?? ""
        let (status, body, type): (HTTPResponseStatus, String, String) =
            switch (request.method, path) {
            case (.GET, "/metrics"), (.HEAD, "/metrics"): (.ok, render(), "text/plain; version=0.0.4; charset=utf-8")
            case (.GET, _), (.HEAD, _): (.notFound, "only /metrics is served here\n", "text/plain; charset=utf-8")
            default: (.methodNotAllowed, "GET /metrics\n", "text/plain; charset=utf-8")
            }
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: type)
        headers.add(name: "Content-Length", value: "\(body.utf8.count)")
        headers.add(name: "Connection", value: "close")
        if status == .methodNotAllowed { headers.add(name: "Allow", value: "GET, HEAD") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: request.version, status: status, headers: headers))), promise: nil)
        if request.method != .HEAD {
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: body)))), promise: nil)
        }
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in bound.value.close(promise: nil) }
    }

    /// A request NIO could not parse has been answered 400 by its error handler; the connection ends here.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
