import BFFSpec
import NIOCore

/// The two connections of one proxied WebSocket after the handshake, on one event loop: bytes pass
/// both ways as they come, with backpressure (a side whose peer cannot take more stops reading),
/// under the route's limits.
///
/// Frames are followed (``WebSocketFrameMeter``), not decoded: a message over `max_message`, or a
/// frame that breaks RFC 6455, is never forwarded, and both sides get a close frame (1009 or 1002)
/// at a frame boundary. No frame either way for `idle_timeout`, or the server draining, closes both
/// sides with 1001. After the gateway's close frames, the connections are closed once both peers
/// answered by closing, or after a grace period.
final class WebSocketPipe {
    enum Side { case client, upstream }

    private let spec: WebSocketSpec
    private let eventLoop: any EventLoop
    private var client: ChannelHandlerContext?
    private var upstream: ChannelHandlerContext?
    /// Frames from the client (masked) and from the service (unmasked).
    private var fromClient: WebSocketFrameMeter
    private var fromUpstream: WebSocketFrameMeter
    /// Bytes a scan left out (a header cut off at the end of a read), per sending side.
    private var heldFromClient: ByteBuffer?
    private var heldFromUpstream: ByteBuffer?
    /// Reads a side skipped while its peer could not take more.
    private var clientReadPending = false
    private var upstreamReadPending = false
    private var lastActivity = NIODeadline.now()
    private var idleCheck: Scheduled<Void>?
    /// False from attaching until ``start(serviceSentFirst:)``: the client's 101 is still being
    /// written, and anything either side sends meanwhile is held.
    private(set) var relaying = false
    private var closing = false
    private var openSides = 2
    private let finished: EventLoopPromise<Void>
    /// How long the peers get to answer the gateway's close frames before their connections are closed.
    static let closeGrace: TimeAmount = .seconds(1)

    init(spec: WebSocketSpec, eventLoop: any EventLoop) {
        self.spec = spec
        self.eventLoop = eventLoop
        fromClient = WebSocketFrameMeter(masked: true, maxMessageBytes: spec.maxMessageBytes)
        fromUpstream = WebSocketFrameMeter(masked: false, maxMessageBytes: spec.maxMessageBytes)
        finished = eventLoop.makePromise()
    }

    /// Completes when both connections have closed.
    var closed: EventLoopFuture<Void> { finished.futureResult }

    /// The handler for one side's pipeline.
    func handler(for side: Side) -> Handler { Handler(pipe: self, side: side) }

    // MARK: From the handlers

    fileprivate func attached(_ side: Side, context: ChannelHandlerContext) {
        switch side {
        case .client: client = context
        case .upstream: upstream = context
        }
    }

    /// Starts relaying once the client's 101 has been written: first what the service sent after
    /// its own 101 (`serviceSentFirst`), then whatever either side sent while the switch was made.
    func start(serviceSentFirst: ByteBuffer) {
        guard !relaying else { return }
        relaying = true
        scheduleIdleCheck(in: .nanoseconds(spec.idleTimeout.nanosecondsValue))
        var fromService = serviceSentFirst
        if var held = heldFromUpstream { fromService.writeBuffer(&held) }
        let fromClientSoFar = heldFromClient
        heldFromUpstream = nil
        heldFromClient = nil
        if fromService.readableBytes > 0 { received(fromService, from: .upstream) }
        if let fromClientSoFar { received(fromClientSoFar, from: .client) }
        client?.flush()
        upstream?.flush()
    }

    fileprivate func received(_ bytes: ByteBuffer, from side: Side) {
        var bytes = bytes
        guard relaying else {
            if side == .client {
                heldFromClient = heldFromClient.map { var held = $0; held.writeBuffer(&bytes); return held } ?? bytes
            } else {
                heldFromUpstream = heldFromUpstream.map { var held = $0; held.writeBuffer(&bytes); return held } ?? bytes
            }
            return
        }
        guard !closing, let peer = context(of: other(side)) else { return }
        lastActivity = .now()
        if var held = side == .client ? heldFromClient : heldFromUpstream {
            held.writeBuffer(&bytes)
            bytes = held
        }
        let scan = bytes.withUnsafeReadableBytes { raw in
            side == .client ? fromClient.scan(raw) : fromUpstream.scan(raw)
        }
        switch scan {
        case .forward(let count):
            if count > 0, let slice = bytes.readSlice(length: count) { peer.write(NIOAny(IOData.byteBuffer(slice)), promise: nil) }
            let rest = bytes.readableBytes > 0 ? bytes : nil
            if side == .client { heldFromClient = rest } else { heldFromUpstream = rest }
        case .refuse(let offset, let violation):
            if offset > 0, let slice = bytes.readSlice(length: offset) { peer.write(NIOAny(IOData.byteBuffer(slice)), promise: nil) }
            close(code: violation.closeCode, reason: violation.reason)
        }
    }

    fileprivate func readComplete(from side: Side) {
        context(of: other(side))?.flush()
    }

    /// Whether `side` may read: its peer can take what it would forward.
    fileprivate func mayRead(_ side: Side) -> Bool {
        guard let peer = context(of: other(side)) else { return true }
        if peer.channel.isWritable { return true }
        if side == .client { clientReadPending = true } else { upstreamReadPending = true }
        return false
    }

    fileprivate func writabilityChanged(_ side: Side) {
        guard let context = context(of: side), context.channel.isWritable else { return }
        let reader = other(side)
        let pending = reader == .client ? clientReadPending : upstreamReadPending
        guard pending else { return }
        if reader == .client { clientReadPending = false } else { upstreamReadPending = false }
        self.context(of: reader)?.read()
    }

    fileprivate func inactive(_ side: Side) {
        switch side {
        case .client: client = nil
        case .upstream: upstream = nil
        }
        openSides -= 1
        if openSides == 0 {
            idleCheck?.cancel()
            finished.succeed()
        } else if let peer = context(of: other(side)) {
            // One side gone: the other follows once what was forwarded to it has been written.
            peer.writeAndFlush(NIOAny(IOData.byteBuffer(ByteBuffer()))).whenComplete { _ in peer.close(promise: nil) }
        }
    }

    /// The server drains: both sides are told the socket is going away.
    fileprivate func drain() {
        close(code: 1001, reason: "server shutting down")
    }

    // MARK: Closing

    /// Sends each side a close frame where its incoming stream sits between frames, and closes
    /// both connections once the peers answered by closing or after ``closeGrace``.
    func close(code: UInt16, reason: String) {
        guard !closing else { return }
        closing = true
        idleCheck?.cancel()
        if let client, fromUpstream.atFrameBoundary {
            let frame = WebSocketFrameMeter.closeFrame(code: code, reason: reason, masked: false)
            client.writeAndFlush(NIOAny(IOData.byteBuffer(client.channel.allocator.buffer(bytes: frame))), promise: nil)
        }
        if let upstream, fromClient.atFrameBoundary {
            let frame = WebSocketFrameMeter.closeFrame(code: code, reason: reason, masked: true)
            upstream.writeAndFlush(NIOAny(IOData.byteBuffer(upstream.channel.allocator.buffer(bytes: frame))), promise: nil)
        }
        eventLoop.assumeIsolated().scheduleTask(in: Self.closeGrace) { [self] in
            client?.close(promise: nil)
            upstream?.close(promise: nil)
        }
    }

    private func scheduleIdleCheck(in delay: TimeAmount) {
        idleCheck = eventLoop.assumeIsolated().scheduleTask(in: delay) { [self] in
            let idle = TimeAmount.nanoseconds(spec.idleTimeout.nanosecondsValue)
            let quiet = NIODeadline.now() - lastActivity
            if quiet >= idle {
                close(code: 1001, reason: "idle timeout")
            } else {
                scheduleIdleCheck(in: idle - quiet)
            }
        }
    }

    private func context(of side: Side) -> ChannelHandlerContext? {
        side == .client ? client : upstream
    }

    private func other(_ side: Side) -> Side {
        side == .client ? .upstream : .client
    }

    // MARK: Handler

    /// One side's end of the pipe. On the client's connection it sits in front of every HTTP
    /// handler: the bytes it reads are frames for the service, and once relaying, whatever the HTTP
    /// handlers behind it still write (the end of the 101 answer) is dropped.
    final class Handler: ChannelDuplexHandler, RemovableChannelHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundIn = IOData

        private let pipe: WebSocketPipe
        private let side: Side

        fileprivate init(pipe: WebSocketPipe, side: Side) {
            self.pipe = pipe
            self.side = side
        }

        func handlerAdded(context: ChannelHandlerContext) {
            pipe.attached(side, context: context)
            if !context.channel.isActive { pipe.inactive(side) }
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            pipe.received(unwrapInboundIn(data), from: side)
        }

        func channelReadComplete(context: ChannelHandlerContext) {
            pipe.readComplete(from: side)
        }

        func read(context: ChannelHandlerContext) {
            if pipe.mayRead(side) { context.read() }
        }

        func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
            if pipe.relaying {
                promise?.succeed()
            } else {
                context.write(data, promise: promise)
            }
        }

        func channelWritabilityChanged(context: ChannelHandlerContext) {
            pipe.writabilityChanged(side)
            context.fireChannelWritabilityChanged()
        }

        func channelInactive(context: ChannelHandlerContext) {
            pipe.inactive(side)
            context.fireChannelInactive()
        }

        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if event is ChannelShouldQuiesceEvent { pipe.drain() }
            context.fireUserInboundEventTriggered(event)
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }
    }
}
