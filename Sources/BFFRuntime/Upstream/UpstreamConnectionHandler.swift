import NIOCore
import NIOHTTP1

/// Drives one keep-alive HTTP/1.1 connection to a service for proxied (streaming) exchanges, with
/// the gateway's own codec on the raw channel: one exchange at a time, then back to the pool when
/// the request and the response both allowed keep-alive and no byte came after the response.
/// Buffered calls have connections of their own (``BufferedConnectionHandler``).
///
/// The request head goes out as one buffer (written by the caller, or from an ``UpstreamRequest``
/// as buffered calls write theirs), a streamed request body in the framing it was started with; the
/// response is read from the socket's reads as it comes (``HTTP1ResponseParser``): its head, its
/// body in the slices it arrived in, its end.
///
/// Also gates reads for streaming exchanges: while ``pauseReading`` is set, outbound `read`
/// events are held, so a slow client slows the upstream instead of filling memory.
/// Confined to its channel's event loop (`@unchecked Sendable` only to travel in futures completed there).
final class UpstreamConnectionHandler: ChannelDuplexHandler, PooledConnection, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var exchange: (any UpstreamExchange)?
    private var parser = HTTP1ResponseParser()
    /// Whether the request allowed keep-alive (it carried no `Connection: close`).
    private var requestKeepAlive = true
    /// Whether the whole request, end included, has been written: a connection is only reused then.
    private var requestComplete = false
    /// Whether the streamed request body goes out in chunks (``UpstreamBodyFraming/chunked``).
    private var chunkedBody = false
    private var context: ChannelHandlerContext?
    /// Whether the channel is active, kept from its events.
    private var active = false
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
    var isIdle: Bool { exchange == nil && active }

    init(onReusable: @escaping (UpstreamConnectionHandler) -> Void, onClosed: @escaping (UpstreamConnectionHandler) -> Void) {
        self.onReusable = onReusable
        self.onClosed = onClosed
    }

    static func install(
        on pipeline: ChannelPipeline.SynchronousOperations,
        onReusable: @escaping (UpstreamConnectionHandler) -> Void,
        onClosed: @escaping (UpstreamConnectionHandler) -> Void
    ) throws {
        try pipeline.addHandler(UpstreamConnectionHandler(onReusable: onReusable, onClosed: onClosed))
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        active = context.channel.isActive
    }

    /// The context holds this handler: keeping it past removal would keep both, and the pipeline,
    /// alive after the channel is gone.
    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        active = false
    }

    func channelActive(context: ChannelHandlerContext) {
        active = true
        context.fireChannelActive()
    }

    // MARK: Requests

    /// Sends a request whose whole head, framing and blank line included, `head` already holds,
    /// with no body after it.
    /// - Parameters:
    ///   - keepAlive: false when the head asks the service to close the connection after its answer.
    ///   - bodyAllowed: false for a HEAD request, whose answer has no body whatever its headers say.
    func start(_ exchange: any UpstreamExchange, head: ByteBuffer, keepAlive: Bool, bodyAllowed: Bool) {
        guard let context else {
            exchange.fail(.connectionClosed(service: ""))
            return
        }
        begin(exchange, keepAlive: keepAlive, bodyAllowed: bodyAllowed, framing: .none)
        context.writeAndFlush(wrapOutboundOut(head), promise: nil)
    }

    /// Sends `request` to `service`, its head written as buffered calls write theirs; a body
    /// (any `framing` but `.none`) follows in parts (``UpstreamConnectionHandler/writeBody(_:)``).
    func start(_ exchange: any UpstreamExchange, request: UpstreamRequest, service: ServiceEndpoint, framing: UpstreamBodyFraming = .none) {
        guard let context else {
            exchange.fail(.connectionClosed(service: ""))
            return
        }
        var head = context.channel.allocator.buffer(capacity: 512)
        let keepAlive = request.writeHead(for: service, framing: framing, into: &head)
        begin(exchange, keepAlive: keepAlive, bodyAllowed: request.method != .HEAD, framing: framing)
        context.writeAndFlush(wrapOutboundOut(head), promise: nil)
    }

    private func begin(_ exchange: any UpstreamExchange, keepAlive: Bool, bodyAllowed: Bool, framing: UpstreamBodyFraming) {
        self.exchange = exchange
        requestKeepAlive = keepAlive
        switch framing {
        case .none: (requestComplete, chunkedBody) = (true, false)
        case .length: (requestComplete, chunkedBody) = (false, false)
        case .chunked: (requestComplete, chunkedBody) = (false, true)
        }
        parser.expect(limit: .max, bodyAllowed: bodyAllowed)
    }

    func writeBody(_ buffer: ByteBuffer) -> EventLoopFuture<Void>? {
        guard let context else { return nil }
        // An empty chunk would end a chunked body.
        guard buffer.readableBytes > 0 else { return context.eventLoop.makeSucceededVoidFuture() }
        guard chunkedBody else { return context.writeAndFlush(wrapOutboundOut(buffer)) }
        var size = context.channel.allocator.buffer(capacity: 18)
        size.writeString(String(buffer.readableBytes, radix: 16))
        size.writeStaticString("\r\n")
        context.write(wrapOutboundOut(size), promise: nil)
        context.write(wrapOutboundOut(buffer), promise: nil)
        return context.writeAndFlush(wrapOutboundOut(ByteBuffer(staticString: "\r\n")))
    }

    func writeEnd() -> EventLoopFuture<Void>? {
        guard let context else { return nil }
        requestComplete = true
        guard chunkedBody else { return context.eventLoop.makeSucceededVoidFuture() }
        return context.writeAndFlush(wrapOutboundOut(ByteBuffer(staticString: "0\r\n\r\n")))
    }

    // MARK: Responses

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let exchange else {
            // Nothing was asked: these bytes are left over from the last answer, or unasked for.
            context.close(promise: nil)
            return
        }
        var buffer = unwrapInboundIn(data)
        do throws(HTTP1ResponseParser.Failure) {
            while let event = try parser.next(&buffer) {
                switch event {
                case .head(let head):
                    exchange.receiveHead(head)
                case .body(let part):
                    exchange.receiveBody(part)
                case .end:
                    self.exchange = nil
                    // An answer can end in the read that paused it (its last parts and its end arrive
                    // together): the pause was that exchange's, and a connection back in the pool reads.
                    pauseReading = false
                    // Back in the pool before the caller hears of it, so the next request the
                    // caller sends from its completion can take this connection.
                    if parser.keepAlive && buffer.readableBytes == 0 && requestKeepAlive && requestComplete && active {
                        onReusable(self)
                    } else {
                        context.close(promise: nil)
                    }
                    exchange.receiveEnd()
                    return
                }
                // The exchange may have given the connection up on what it was told (a retried answer).
                guard self.exchange === exchange else { return }
            }
        } catch {
            self.exchange = nil
            exchange.fail(.malformedResponse(service: ""))
            context.close(promise: nil)
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
        active = false
        let pending = exchange
        exchange = nil
        if let pending {
            // A body that runs until the close is complete now; any other answer was cut short.
            if parser.closeEndsResponse() {
                pending.receiveEnd()
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
