import NIOCore
import NIOHTTP1

/// Drives one keep-alive HTTP/1.1 connection to a service through NIO's client codec, for proxied
/// (streaming) exchanges: one exchange at a time, then back to the pool when the response allowed
/// keep-alive. Buffered calls have connections of their own (``BufferedConnectionHandler``).
///
/// Also gates reads for streaming exchanges: while ``pauseReading`` is set, outbound `read`
/// events are held, so a slow client slows the upstream instead of filling memory.
/// Confined to its channel's event loop (`@unchecked Sendable` only to travel in futures completed there).
final class UpstreamConnectionHandler: ChannelDuplexHandler, PooledConnection, @unchecked Sendable {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = HTTPClientRequestPart
    typealias OutboundOut = HTTPClientRequestPart

    private var exchange: (any UpstreamExchange)?
    private var keepAlive = true
    /// Whether the whole request, end included, has been written: a connection is only reused then.
    private var requestComplete = false
    private var context: ChannelHandlerContext?
    private var heldRead = false
    private let onReusable: (UpstreamConnectionHandler) -> Void
    private let onClosed: (UpstreamConnectionHandler) -> Void

    /// Whether reading from the socket is paused (streaming backpressure).
    var pauseReading = false {
        didSet {
            if !pauseReading, heldRead, let context {
                heldRead = false
                context.read()
            }
        }
    }

    var channel: (any Channel)? { context?.channel }

    /// Closes the connection if it still carries `exchange` (never one already back in the pool).
    func abort(_ exchange: any UpstreamExchange) {
        if self.exchange === exchange { context?.close(promise: nil) }
    }
    var isIdle: Bool { exchange == nil && context?.channel.isActive == true }

    init(onReusable: @escaping (UpstreamConnectionHandler) -> Void, onClosed: @escaping (UpstreamConnectionHandler) -> Void) {
        self.onReusable = onReusable
        self.onClosed = onClosed
    }

    static func install(
        on pipeline: ChannelPipeline.SynchronousOperations,
        onReusable: @escaping (UpstreamConnectionHandler) -> Void,
        onClosed: @escaping (UpstreamConnectionHandler) -> Void
    ) throws {
        // Outbound header validation is off: every header we send is either built from the
        // spec, or a template value already refused if it holds control characters, or a
        // client header NIO's parser accepted.
        try pipeline.addHTTPClientHandlers(leftOverBytesStrategy: .fireError, enableOutboundHeaderValidation: false)
        try pipeline.addHandler(UpstreamConnectionHandler(onReusable: onReusable, onClosed: onClosed))
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    /// The context holds this handler: keeping it past removal would keep both, and the pipeline,
    /// alive after the channel is gone.
    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    /// Sends a request with no body on this connection.
    func start(_ exchange: any UpstreamExchange, head: HTTPRequestHead) {
        guard let context else {
            exchange.fail(.connectionClosed(service: ""))
            return
        }
        self.exchange = exchange
        keepAlive = head.isKeepAlive
        requestComplete = true
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }

    /// Starts a request whose body follows in parts (see ``UpstreamConnectionHandler/writeBody(_:)``).
    func startStreaming(_ exchange: any UpstreamExchange, head: HTTPRequestHead) {
        self.exchange = exchange
        keepAlive = head.isKeepAlive
        requestComplete = false
        context?.writeAndFlush(wrapOutboundOut(.head(head)), promise: nil)
    }

    func writeBody(_ buffer: ByteBuffer) -> EventLoopFuture<Void>? {
        guard let context else { return nil }
        return context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(buffer))))
    }

    func writeEnd() -> EventLoopFuture<Void>? {
        guard let context else { return nil }
        requestComplete = true
        return context.writeAndFlush(wrapOutboundOut(.end(nil)))
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            guard head.status.code >= 200 else { return }  // 1xx interim responses carry nothing for us
            keepAlive = keepAlive && head.isKeepAlive
            exchange?.receiveHead(head)
        case .body(let buffer):
            exchange?.receiveBody(buffer)
        case .end:
            let finished = exchange
            exchange = nil
            // An answer can end in the read that paused it (its last parts and its end arrive
            // together): the pause was that exchange's, and a connection back in the pool reads.
            pauseReading = false
            if keepAlive && requestComplete && context.channel.isActive {
                finished?.receiveEnd()
                onReusable(self)
            } else {
                finished?.receiveEnd()
                context.close(promise: nil)
            }
        }
    }

    func read(context: ChannelHandlerContext) {
        if pauseReading {
            heldRead = true
        } else {
            context.read()
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        let pending = exchange
        exchange = nil
        pending?.fail(.connectionClosed(service: ""))
        onClosed(self)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let pending = exchange
        exchange = nil
        pending?.fail(error is HTTPParserError ? .malformedResponse(service: "") : .connectionClosed(service: ""))
        context.close(promise: nil)
    }
}
