import Logging
import NIOCore
import NIOHTTP1
import NIOPosix

/// The optional HTTP listener of `daemon.metrics_listen`: `GET /metrics` answers the same
/// Prometheus text as `normd ctl metrics`, for a Prometheus server to scrape. Nothing else is
/// served; no control command is reachable over the network.
final class MetricsListener: Sendable {
    private let group: MultiThreadedEventLoopGroup
    private let channel: any Channel

    init(host: String, port: Int, render: @escaping @Sendable () -> String, logger: Logger) throws {
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        do {
            channel = try ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 16)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelInitializer { channel in
                    channel.pipeline.configureHTTPServerPipeline().flatMap {
                        channel.pipeline.addHandler(MetricsHandler(render: render))
                    }
                }
                .bind(host: host, port: port)
                .wait()
        } catch {
            try? group.syncShutdownGracefully()
            throw DaemonError(.socket, "cannot listen for metrics on \(host):\(port): \(error)")
        }
        logger.info("serving GET /metrics", metadata: ["listen": "\(host):\(port)"])
    }

    var port: Int? { channel.localAddress?.port }

    func stop() {
        try? channel.close().wait()
        try? group.syncShutdownGracefully()
    }
}

private final class MetricsHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart
    let render: @Sendable () -> String

    init(render: @escaping @Sendable () -> String) { self.render = render }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(let request) = unwrapInboundIn(data) else { return }
        let (status, body, type): (HTTPResponseStatus, String, String) =
            switch (request.method, request.uri.split(separator: "?").first ?? "") {
            case (.GET, "/metrics"): (.ok, render(), "text/plain; version=0.0.4; charset=utf-8")
            case (.GET, _): (.notFound, "only /metrics is served here\n", "text/plain; charset=utf-8")
            default: (.methodNotAllowed, "GET /metrics\n", "text/plain; charset=utf-8")
            }
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: type)
        headers.add(name: "Content-Length", value: "\(body.utf8.count)")
        headers.add(name: "Connection", value: "close")
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: request.version, status: status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: body)))), promise: nil)
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in bound.value.close(promise: nil) }
    }
}
