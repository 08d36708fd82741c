import NIOCore
import NIOHTTP1
import Synchronization

/// An upstream for size tests: `GET /bulk/N` streams N bytes without holding them, and a POST
/// counts and discards its body, answering with the count. Writes wait for the socket, so a slow
/// reader slows it down instead of filling memory.
final class BulkUpstream: Sendable {
    private let server: LoopbackServer
    private let counter: ByteCounter

    private init(server: LoopbackServer, counter: ByteCounter) {
        self.server = server
        self.counter = counter
    }

    var port: Int { server.port }

    /// Bytes of POST bodies received so far.
    var bytesReceived: Int { counter.total }

    static func start() async throws -> BulkUpstream {
        let counter = ByteCounter()
        let server = try await LoopbackServer.start { channel in
            try channel.pipeline.syncOperations.addHandler(BulkHandler(counter: counter))
        }
        return BulkUpstream(server: server, counter: counter)
    }

    func shutdown() async throws { try await server.shutdown() }
}

/// A running total shared between the upstream's handlers and the test.
final class ByteCounter: Sendable {
    private let value = Mutex(0)
    var total: Int { value.withLock { $0 } }
    func add(_ bytes: Int) { value.withLock { $0 += bytes } }
}

private final class BulkHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let counter: ByteCounter
    private var isPost = false
    private var postBytes = 0
    private var remaining = 0
    private let chunk = ByteBuffer(repeating: 0x61, count: 64 * 1024)

    init(counter: ByteCounter) {
        self.counter = counter
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            isPost = head.method == .POST
            postBytes = 0
            remaining = Int(head.uri.split(separator: "/").last ?? "") ?? 0
        case .body(let buffer):
            postBytes += buffer.readableBytes
            counter.add(buffer.readableBytes)
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
