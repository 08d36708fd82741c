import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// An upstream for size tests: `GET /bulk/N` streams N bytes without holding them, and a POST
/// counts and discards its body, answering with the count. Writes wait for the socket, so a slow
/// reader slows it down instead of filling memory.
final class BulkUpstream: Sendable {
    let port: Int
    private let channel: any Channel
    private let group: MultiThreadedEventLoopGroup
    private let received = Mutex(0)

    private init(port: Int, channel: any Channel, group: MultiThreadedEventLoopGroup) {
        self.port = port
        self.channel = channel
        self.group = group
    }

    /// Bytes of POST bodies received so far.
    var bytesReceived: Int { received.withLock { $0 } }

    fileprivate func count(_ bytes: Int) { received.withLock { $0 += bytes } }

    static func start() async throws -> BulkUpstream {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let box = Mutex<BulkUpstream?>(nil)
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(BulkHandler(owner: { box.withLock { $0 } }))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let upstream = BulkUpstream(port: channel.localAddress?.port ?? 0, channel: channel, group: group)
        box.withLock { $0 = upstream }
        return upstream
    }

    func shutdown() async throws {
        try await channel.close()
        try await group.shutdownGracefully()
    }
}

private final class BulkHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let owner: @Sendable () -> BulkUpstream?
    private var isPost = false
    private var postBytes = 0
    private var remaining = 0
    private let chunk = ByteBuffer(repeating: 0x61, count: 64 * 1024)

    init(owner: @escaping @Sendable () -> BulkUpstream?) {
        self.owner = owner
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            isPost = head.method == .POST
            postBytes = 0
            remaining = Int(head.uri.split(separator: "/").last ?? "") ?? 0
        case .body(let buffer):
            postBytes += buffer.readableBytes
            owner()?.count(buffer.readableBytes)
        case .end:
            if isPost {
                let body = ByteBuffer(string: "{\"received\":\(postBytes)}")
                let head = HTTPResponseHead(version: .http1_1, status: .ok, headers: ["content-length": String(body.readableBytes)])
                context.write(wrapOutboundOut(.head(head)), promise: nil)
                context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            } else {
                let head = HTTPResponseHead(version: .http1_1, status: .ok, headers: ["content-length": String(remaining)])
                context.writeAndFlush(wrapOutboundOut(.head(head)), promise: nil)
                writeMore(context: context)
            }
        }
    }

    /// Writes one chunk, and the next only once it has reached the socket.
    private func writeMore(context: ChannelHandlerContext) {
        guard remaining > 0 else {
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            return
        }
        let size = min(remaining, chunk.readableBytes)
        remaining -= size
        context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(chunk.getSlice(at: 0, length: size)!)))).assumeIsolated().whenSuccess {
            self.writeMore(context: context)
        }
    }
}
