import BFFSpec
import HTTPTypes
import Logging
import NIOCore
import NIOHTTPTypes

/// The first handler of every accepted connection: admits it under the connection budget, holds
/// each request head back from the HTTP decoder until ``RequestHeadScanner`` has vetted all of it,
/// enforces the head deadline, and answers a refused request itself (problem+json, then close).
///
/// Holding whole heads means the decoder never sees a byte of a refused request, so nothing about it
/// can reach routing, and the decoder's own errors (a bare 400) cannot pre-empt our answer.
/// A refused request that follows pipelined requests is answered after their responses, which
/// ``IngressHeaderSanitizer`` reports with ``IngressResponseEnded`` (or which were written whole
/// through ``writeWholeResponse(_:)``). A vetted plain GET head is decoded here and handed on past
/// the decoder (``decodedRequests``).
final class RequestHeadGuard: ChannelDuplexHandler, RemovableChannelHandler, LoopDeadlineOwner {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = IOData
    typealias OutboundOut = IOData

    private enum State {
        case serving
        /// Refused, waiting for earlier pipelined responses before answering.
        case refusing(IngressRejection)
        /// Answered and half-closed; draining the client's bytes until it closes or the linger ends.
        case lingering
    }

    private let policy: IngressPolicy
    private let connections: ConnectionBudget
    private let logger: Logger
    private var scanner: RequestHeadScanner
    private var state = State.serving
    private var isAdmitted = false
    /// Bytes of the head being received, not yet passed to the decoder.
    private var heldHead: ByteBuffer?
    /// Requests whose head went to the decoder and whose response has not ended.
    private var unansweredRequests = 0
    /// The head deadline, one per head (numbered by `heads`), kept without a NIO timer per request.
    private var deadlines: LoopDeadlines?
    private var heads = 0
    private var headDeadlineRunning = false
    private var context: ChannelHandlerContext?
    private var lingerDeadline: Scheduled<Void>?
    /// The context whose next handler takes decoded request parts (the HTTP/1-to-HTTPTypes codec's):
    /// plain GET heads (``SimpleRequestDecoder``) are decoded here and handed on from there, past
    /// the HTTP decoder. While it is nil (no HTTP pipeline behind this guard yet) every head goes to the decoder.
    var decodedRequests: ChannelHandlerContext?

    init(policy: IngressPolicy, connections: ConnectionBudget, logger: Logger) {
        self.policy = policy
        self.connections = connections
        self.logger = logger
        self.scanner = RequestHeadScanner(policy: policy)
    }

    // MARK: Connection lifetime

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        deadlines = LoopDeadlines(eventLoop: context.eventLoop)
        if context.channel.isActive { admit(context: context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadlines?.close()
        self.context = nil
        decodedRequests = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        admit(context: context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        deadlines?.close()
        lingerDeadline?.cancel()
        if isAdmitted {
            isAdmitted = false
            connections.release()
        }
        context.fireChannelInactive()
    }

    private func admit(context: ChannelHandlerContext) {
        guard !isAdmitted, case .serving = state else { return }
        if connections.admit() {
            isAdmitted = true
        } else {
            refuse(.overCapacity, context: context)
        }
    }

    // MARK: Inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .serving = state else { return }
        let buffer = unwrapInboundIn(data)
        var events: [(offset: Int, event: RequestHeadScanner.Event)] = []
        buffer.withUnsafeReadableBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let (end, event) = scanner.next(in: bytes, from: offset)
                offset = end
                guard let event else { break }
                events.append((end, event))
                if case .rejected = event { break }
                if case .framingBroken = event { break }
            }
        }
        var pending = 0
        for (offset, event) in events {
            switch event {
            case .headStarted:
                pass(buffer, pending..<offset, context: context)
                pending = offset
                heldHead = ByteBuffer()
                startHeadDeadline()
            case .headEnded:
                hold(buffer, pending..<offset)
                pending = offset
                stopHeadDeadline()
                unansweredRequests += 1
                if let head = heldHead.take() { deliver(head, context: context) }
            case .rejected(let rejection):
                // Outside a head, the bytes before the offending one end an earlier request's body.
                if heldHead == nil { pass(buffer, pending..<(offset - 1), context: context) }
                refuse(rejection, context: context)
                return
            case .framingBroken:
                logger.debug("malformed chunked request body, closing the connection")
                context.close(promise: nil)
                return
            }
        }
        if heldHead != nil {
            hold(buffer, pending..<buffer.readableBytes)
        } else {
            pass(buffer, pending..<buffer.readableBytes, context: context)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        // While refusing, the requests passed on before the refused one still need their read
        // completion delivered to be served.
        if case .lingering = state { return }
        context.fireChannelReadComplete()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .lingering = state, case ChannelEvent.inputClosed = event {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    /// Hands a vetted head on: decoded here when it is a plain GET, else to the HTTP decoder.
    private func deliver(_ head: ByteBuffer, context: ChannelHandlerContext) {
        if let decodedRequests, let request = SimpleRequestDecoder.decode(head) {
            decodedRequests.fireChannelRead(NIOAny(HTTPRequestPart.head(request)))
            decodedRequests.fireChannelRead(NIOAny(HTTPRequestPart.end(nil)))
        } else {
            context.fireChannelRead(wrapInboundOut(head))
        }
    }

    private func pass(_ buffer: ByteBuffer, _ range: Range<Int>, context: ChannelHandlerContext) {
        guard !range.isEmpty, let slice = buffer.getSlice(at: buffer.readerIndex + range.lowerBound, length: range.count) else { return }
        context.fireChannelRead(wrapInboundOut(slice))
    }

    private func hold(_ buffer: ByteBuffer, _ range: Range<Int>) {
        guard !range.isEmpty, var slice = buffer.getSlice(at: buffer.readerIndex + range.lowerBound, length: range.count) else { return }
        heldHead?.writeBuffer(&slice)
    }

    private func startHeadDeadline() {
        heads += 1
        headDeadlineRunning = true
        deadlines?.add(self, tag: heads, at: .now() + .nanoseconds(policy.headerTimeout.nanosecondsValue))
    }

    private func stopHeadDeadline() {
        guard headDeadlineRunning else { return }
        headDeadlineRunning = false
        deadlines?.finished()
    }

    func isPast(deadline head: Int) -> Bool { head != heads || !headDeadlineRunning }

    func deadlinePassed(_ head: Int) {
        stopHeadDeadline()
        guard let context else { return }
        refuse(.headTimeout(policy.headerTimeout), context: context)
    }

    // MARK: Outbound

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .lingering = state {
            promise?.fail(ChannelError.outputClosed)
            return
        }
        context.write(data, promise: promise)
    }

    func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        guard event is IngressResponseEnded else {
            context.triggerUserOutboundEvent(event, promise: promise)
            return
        }
        promise?.succeed()
        responseEnded(context: context)
    }

    /// Writes and flushes a whole response to the oldest unanswered request, already encoded by a
    /// handler further in that answered it itself (``FastAggregationHandler``), past the HTTP encoder.
    func writeWholeResponse(_ bytes: ByteBuffer) {
        guard let context else { return }
        if case .lingering = state { return }
        context.writeAndFlush(wrapOutboundOut(.byteBuffer(bytes)), promise: nil)
        responseEnded(context: context)
    }

    private func responseEnded(context: ChannelHandlerContext) {
        unansweredRequests -= 1
        if unansweredRequests == 0, case .refusing(let rejection) = state { answer(rejection, context: context) }
    }

    // MARK: Refusing

    /// Stops passing bytes on and answers `rejection` once earlier requests have their responses.
    private func refuse(_ rejection: IngressRejection, context: ChannelHandlerContext) {
        guard case .serving = state else { return }
        stopHeadDeadline()
        heldHead = nil
        logger.debug("refused request at the edge", metadata: ["status": "\(rejection.status.code)", "reason": "\(rejection.detail)"])
        state = .refusing(rejection)
        if unansweredRequests == 0 { answer(rejection, context: context) }
    }

    /// Writes the answer, half-closes, and drains the client until it closes or the linger ends.
    private func answer(_ rejection: IngressRejection, context: ChannelHandlerContext) {
        state = .lingering
        context.writeAndFlush(wrapOutboundOut(.byteBuffer(rejection.responseBytes))).assumeIsolated().whenComplete { _ in
            context.close(mode: .output).assumeIsolated().whenFailure { _ in context.close(promise: nil) }
        }
        lingerDeadline = context.eventLoop.assumeIsolated().scheduleTask(in: .nanoseconds(policy.lingerTimeout.nanosecondsValue)) {
            context.close(promise: nil)
        }
    }
}

/// Sent toward the socket by ``IngressHeaderSanitizer`` after each response's last part, so
/// ``RequestHeadGuard`` knows when pipelined responses are done.
struct IngressResponseEnded {}
