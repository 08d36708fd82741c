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
/// through ``writeWholeResponse(_:)``). A request whose chunked body turns out malformed or too
/// large is refused the same way (400 or 413) if its answer has not started, and the connection is
/// closed either way. After an answer that says `Connection: close` while its request's body is
/// still coming (``IngressCloseAfterResponse``), the connection is closed too, after a bounded
/// linger, instead of reading the rest of that body. A vetted plain GET head is decoded here and
/// handed on past the decoder (``decodedRequests``).
final class RequestHeadGuard: ChannelDuplexHandler, RemovableChannelHandler, LoopDeadlineOwner {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = IOData
    typealias OutboundOut = IOData

    private enum State {
        case serving
        /// Refused, waiting for earlier pipelined responses before answering.
        case refusing(IngressRejection)
        /// The body of a request already passed on was refused: waiting until that request is the
        /// only one unanswered to answer it, or until the answer it already started has ended.
        case refusingBody(IngressRejection)
        /// Answered and half-closed; draining the client's bytes until it closes, the linger ends or
        /// ``IngressPolicy/lingerBytes`` have been discarded.
        case lingering(discarded: Int)
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
    /// Whether bytes of the oldest unanswered request's response have been written.
    private var answerStarted = false
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
        let buffer = unwrapInboundIn(data)
        guard case .serving = state else {
            if case .lingering(let discarded) = state {
                let total = discarded + buffer.readableBytes
                state = .lingering(discarded: total)
                if total > policy.lingerBytes { context.close(promise: nil) }
            }
            return
        }
        var events: [(offset: Int, event: RequestHeadScanner.Event)] = []
        buffer.withUnsafeReadableBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let (end, event) = scanner.next(in: bytes, from: offset)
                offset = end
                guard let event else { break }
                events.append((end, event))
                if case .rejected = event { break }
                if case .bodyRefused = event { break }
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
            case .bodyRefused(let rejection):
                // The chunks before the offending line go nowhere: the request they belong to is refused.
                refuseBody(rejection, context: context)
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
        if case .lingering = state {
            // Drained whatever the handlers further in would ask for: a linger reads to the end.
            context.read()
            return
        }
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
        answerStarted = true
        context.write(data, promise: promise)
    }

    func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        switch event {
        case is IngressResponseEnded:
            promise?.succeed()
            responseEnded(context: context)
        case is IngressCloseAfterResponse:
            promise?.succeed()
            guard case .serving = state else { return }
            logger.debug("answered before the request body ended, with Connection: close; closing the connection")
            linger(context: context)
        default:
            context.triggerUserOutboundEvent(event, promise: promise)
        }
    }

    /// Writes and flushes a whole response to the oldest unanswered request, already encoded by a
    /// handler further in that answered it itself (``FastAggregationHandler``), past the HTTP encoder.
    func writeWholeResponse(_ bytes: ByteBuffer) {
        guard let context else { return }
        if case .lingering = state { return }
        context.writeAndFlush(wrapOutboundOut(.byteBuffer(bytes)), promise: nil)
        responseEnded(context: context)
    }

    /// Writes part of a response to the oldest unanswered request that a handler further in
    /// encodes itself as it streams (a proxied answer, ``FastAggregationHandler``), past the HTTP
    /// encoder; ``endStreamedResponse()`` ends it.
    func writeResponseBytes(_ bytes: ByteBuffer, flush: Bool) {
        guard let context else { return }
        if case .lingering = state { return }
        answerStarted = true
        if flush {
            context.writeAndFlush(wrapOutboundOut(.byteBuffer(bytes)), promise: nil)
        } else {
            context.write(wrapOutboundOut(.byteBuffer(bytes)), promise: nil)
        }
    }

    /// Ends a response written with ``writeResponseBytes(_:flush:)``.
    func endStreamedResponse() {
        guard let context else { return }
        responseEnded(context: context)
    }

    private func responseEnded(context: ChannelHandlerContext) {
        unansweredRequests -= 1
        answerStarted = false
        switch state {
        case .refusing(let rejection) where unansweredRequests == 0:
            answer(rejection, context: context)
        case .refusingBody(let rejection) where unansweredRequests == 1:
            answer(rejection, context: context)
        case .refusingBody where unansweredRequests == 0:
            linger(context: context)
        default:
            break
        }
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

    /// Stops passing bytes on after a request whose body is already going to the decoder turned out
    /// malformed or too large. Its answer is `rejection` unless it has one already (started or
    /// written); either way the connection closes.
    private func refuseBody(_ rejection: IngressRejection, context: ChannelHandlerContext) {
        guard case .serving = state else { return }
        logger.debug("refused a request body at the edge", metadata: ["status": "\(rejection.status.code)", "reason": "\(rejection.detail)"])
        state = .refusingBody(rejection)
        if unansweredRequests == 0 {
            linger(context: context)
        } else if unansweredRequests == 1 && !answerStarted {
            answer(rejection, context: context)
        }
    }

    /// Writes the answer, then lingers.
    private func answer(_ rejection: IngressRejection, context: ChannelHandlerContext) {
        context.write(wrapOutboundOut(.byteBuffer(rejection.responseBytes)), promise: nil)
        linger(context: context)
    }

    /// Flushes what was written, half-closes, and drains the client until it closes, the linger
    /// ends or enough has been discarded (so the kernel does not reset the connection, and discard
    /// the answer, over unread request bytes). Nothing more is passed on or written.
    private func linger(context: ChannelHandlerContext) {
        state = .lingering(discarded: 0)
        context.writeAndFlush(wrapOutboundOut(.byteBuffer(ByteBuffer()))).assumeIsolated().whenComplete { _ in
            context.close(mode: .output).assumeIsolated().whenFailure { _ in context.close(promise: nil) }
        }
        lingerDeadline = context.eventLoop.assumeIsolated().scheduleTask(in: .nanoseconds(policy.lingerTimeout.nanosecondsValue)) {
            context.close(promise: nil)
        }
        context.read()
    }
}

/// Sent toward the socket by ``IngressHeaderSanitizer`` after each response's last part, so
/// ``RequestHeadGuard`` knows when pipelined responses are done.
struct IngressResponseEnded {}

/// Sent toward the socket by ``IngressHeaderSanitizer`` after a response with `Connection: close`
/// ended while its request's body was still arriving, so ``RequestHeadGuard`` closes the
/// connection instead of reading the rest.
struct IngressCloseAfterResponse {}
