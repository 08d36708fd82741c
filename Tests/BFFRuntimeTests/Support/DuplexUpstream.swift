import NIOCore
import NIOHTTP1
import NIOPosix

/// Upstreams that answer while the request body is still arriving, as real services do.
///
/// - `POST /echo`: streams each body chunk straight back and stops reading whenever its socket
///   cannot take more, so it only makes progress if the gateway reads the response while uploading.
/// - `POST /reject`: answers 413 as soon as the head arrives and never reads the body.
final class DuplexUpstream: Sendable {
    let port: Int
    private let channel: any Channel
    private let group: MultiThreadedEventLoopGroup

    private init(port: Int, channel: any Channel, group: MultiThreadedEventLoopGroup) {
        self.port = port
        self.channel = channel
        self.group = group
    }

    static func start() async throws -> DuplexUpstream {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.so_sndbuf), value: 64 * 1024)
            .childChannelOption(.socketOption(.so_rcvbuf), value: 64 * 1024)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(DuplexHandler())
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return DuplexUpstream(port: channel.localAddress?.port ?? 0, channel: channel, group: group)
    }

    func shutdown() async throws {
        try await channel.close()
        try await group.shutdownGracefully()
    }
}

private final class DuplexHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private var echoing = false
    private var readPending = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head) where head.uri == "/reject":
            let body = ByteBuffer(string: #"{"error":"too large"}"#)
            let response = HTTPResponseHead(version: .http1_1, status: .payloadTooLarge, headers: ["content-length": String(body.readableBytes)])
            context.write(wrapOutboundOut(.head(response)), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            context.channel.setOption(.autoRead, value: false).whenComplete { _ in }
        case .head:
            echoing = true
            let response = HTTPResponseHead(version: .http1_1, status: .ok, headers: ["transfer-encoding": "chunked"])
            context.writeAndFlush(wrapOutboundOut(.head(response)), promise: nil)
        case .body(let chunk):
            if echoing { context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(chunk))), promise: nil) }
        case .end:
            if echoing { context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil) }
            echoing = false
        }
    }

    /// Holds reads while the socket cannot take more writes: backpressure from our own output.
    func read(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            context.read()
        } else {
            readPending = true
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable && readPending {
            readPending = false
            context.read()
        }
        context.fireChannelWritabilityChanged()
    }
}
