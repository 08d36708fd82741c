import NIOCore
import NIOHTTP1

/// Drives one keep-alive HTTP/1.1 connection for buffered calls (aggregation calls, health
/// checks) with the gateway's own codec on the raw channel: one exchange at a time.
///
/// NIO's generic client codec costs more per call than a fan-out call can afford; this one writes
/// each request head as one buffer (``UpstreamRequest/writeHead(for:bodyLength:into:)``) and reads
/// the response straight from the socket's reads (``HTTP1ResponseParser``). The connection goes
/// back to the pool only when the request and the response both allowed keep-alive and no byte
/// came after the response; a byte that arrives while it waits for its next request closes it,
/// so nothing left over is ever read as the next call's answer.
///
/// Confined to its channel's event loop (`@unchecked Sendable` only to travel in futures completed there).
final class BufferedConnectionHandler: ChannelInboundHandler, PooledConnection, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Request heads larger than this are not kept for reuse, so a pooled connection holds little.
    private static let reusedHeadCapacity = 4096

    private var exchange: BufferedExchange?
    private var parser = HTTP1ResponseParser()
    /// Whether the request allowed keep-alive (it carried no `Connection: close`).
    private var requestKeepAlive = true
    /// The last request head's buffer: once the socket has taken it, it is ours alone again, so
    /// the next head is written into it without an allocation.
    private var headBuffer: ByteBuffer?
    private var context: ChannelHandlerContext?
    /// Whether the channel is active, kept from its events (asking the channel costs a lock-free
    /// read and two reference counts on every call).
    private var active = false
    private let onReusable: (BufferedConnectionHandler) -> Void
    private let onClosed: (BufferedConnectionHandler) -> Void

    init(onReusable: @escaping (BufferedConnectionHandler) -> Void, onClosed: @escaping (BufferedConnectionHandler) -> Void) {
        self.onReusable = onReusable
        self.onClosed = onClosed
    }

    static func install(
        on pipeline: ChannelPipeline.SynchronousOperations,
        onReusable: @escaping (BufferedConnectionHandler) -> Void,
        onClosed: @escaping (BufferedConnectionHandler) -> Void
    ) throws {
        try pipeline.addHandler(BufferedConnectionHandler(onReusable: onReusable, onClosed: onClosed))
    }

    var channel: (any Channel)? { context?.channel }
    var isIdle: Bool { exchange == nil && active }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        active = context.channel.isActive
    }

    /// The context holds this handler: keeping it past removal would keep both, and the pipeline,
    /// alive after the channel is gone (one per call that closed its connection, a timeout say).
    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        active = false
    }

    func channelActive(context: ChannelHandlerContext) {
        active = true
        context.fireChannelActive()
    }

    /// Sends `request` to `service`, with a complete `body` if it has one, in one flush.
    func start(_ exchange: BufferedExchange, request: UpstreamRequest, service: ServiceEndpoint, body: ByteBuffer? = nil) {
        guard let context else {
            exchange.fail(.connectionClosed(service: ""))
            return
        }
        self.exchange = exchange
        parser.expect(limit: exchange.limit, bodyAllowed: request.method != .HEAD)
        var head = headBuffer.take() ?? context.channel.allocator.buffer(capacity: 512)
        head.clear()
        requestKeepAlive = request.writeHead(for: service, bodyLength: body?.readableBytes, into: &head)
        if head.capacity <= Self.reusedHeadCapacity { headBuffer = head }
        if let body {
            context.write(wrapOutboundOut(head), promise: nil)
            context.writeAndFlush(wrapOutboundOut(body), promise: nil)
        } else {
            context.writeAndFlush(wrapOutboundOut(head), promise: nil)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let exchange else {
            // Nothing was asked: these bytes are left over from the last answer, or unasked for.
            context.close(promise: nil)
            return
        }
        let parsed: HTTP1ResponseParser.Parsed
        do throws(HTTP1ResponseParser.Failure) {
            guard let complete = try parser.parse(unwrapInboundIn(data)) else { return }
            parsed = complete
        } catch {
            self.exchange = nil
            switch error {
            case .malformed: exchange.fail(.malformedResponse(service: ""))
            case .bodyTooLarge: exchange.fail(.bodyTooLarge(service: "", limit: exchange.limit))
            }
            context.close(promise: nil)
            return
        }
        self.exchange = nil
        // Back in the pool before the caller hears of it, so a call the caller starts from its
        // completion (a dependent call of the plan) can take this connection.
        if parsed.reusable && requestKeepAlive && active {
            onReusable(self)
        } else {
            context.close(promise: nil)
        }
        exchange.succeed(parsed.response)
    }

    func channelInactive(context: ChannelHandlerContext) {
        active = false
        let pending = exchange
        exchange = nil
        if let pending {
            // A body that runs until the close is complete now; any other answer was cut short.
            if let response = parser.peerClosed() {
                pending.succeed(response)
            } else {
                pending.fail(.connectionClosed(service: ""))
            }
        }
        onClosed(self)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let pending = exchange
        exchange = nil
        pending?.fail(.connectionClosed(service: ""))
        context.close(promise: nil)
    }
}
