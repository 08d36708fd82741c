import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// An HTTP server on 127.0.0.1 that answers every request with a prompt `200` head promising a
/// 60,000-byte body (under the default JWKS size cap, so the length alone refuses nothing), then
/// sends that body one byte per `interval`: never idle long enough for a read timeout, never
/// finished within any sensible deadline.
final class DrippingServer: Sendable {
    private let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    private let channel: Mutex<(any Channel)?> = Mutex(nil)
    private let hitCount = Atomic<Int>(0)
    private let port = Atomic<Int>(0)

    /// Requests received so far.
    var hits: Int { hitCount.load(ordering: .relaxed) }
    var url: String { "http://127.0.0.1:\(port.load(ordering: .relaxed))" }

    private init() {}

    static func start(interval: TimeAmount) async throws -> DrippingServer {
        let server = DrippingServer()
        let channel = try await ServerBootstrap(group: server.group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(DripHandler(server: server, interval: interval))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        server.channel.withLock { $0 = channel }
        server.port.store(channel.localAddress?.port ?? 0, ordering: .relaxed)
        return server
    }

    func shutdown() async throws {
        try await channel.withLock { $0 }?.close()
        try await group.shutdownGracefully()
    }

    fileprivate func recordHit() { hitCount.add(1, ordering: .relaxed) }
}

private final class DripHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let server: DrippingServer
    let interval: TimeAmount

    init(server: DrippingServer, interval: TimeAmount) {
        self.server = server
        self.interval = interval
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .end = unwrapInboundIn(data) else { return }
        server.recordHit()
        let head = HTTPResponseHead(version: .http1_1, status: .ok, headers: HTTPHeaders([("content-type", "application/json"), ("content-length", "60000")]))
        context.writeAndFlush(wrapOutboundOut(.head(head)), promise: nil)
        drip(context: context, remaining: 60_000)
    }

    private func drip(context: ChannelHandlerContext, remaining: Int) {
        guard remaining > 0, context.channel.isActive else { return }
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        context.eventLoop.scheduleTask(in: interval) {
            let (handler, context) = loopBound.value
            guard context.channel.isActive else { return }
            context.writeAndFlush(handler.wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: " ")))), promise: nil)
            handler.drip(context: context, remaining: remaining - 1)
        }
    }
}
