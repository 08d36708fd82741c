import HTTPTypes
import NIOCore
import NIOHTTP2
import NIOHTTPTypes

/// The request limits of ``IngressPolicy`` for an HTTP/2 stream, where no HTTP/1 head passes
/// ``RequestHeadGuard``: the same sizes, counted the same way (a field as its HTTP/1 line would be,
/// the `:method` and `:path` as a request line), refused with the same problem+json answers.
///
/// A refused request never reaches routing: its answer is written here. A body whose DATA adds up
/// to more than any route accepts (HTTP/2 needs no `content-length`) is refused as it arrives: with
/// the same 413 if the route's answer has not started (which is then never sent), else by ending
/// the stream. Answers leave without the
/// connection-specific fields HTTP/2 forbids (RFC 9113 §8.2.2); one that would close an HTTP/1.1
/// connection (`Connection: close`, as a 413 does) instead ends a request still sending its body
/// with RST_STREAM(NO_ERROR), which tells the client to stop (§8.1) without failing the answer.
final class HTTP2StreamGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let policy: IngressPolicy
    private var refused = false
    private var requestEnded = false
    /// The request's head, once it was passed on, and its body bytes so far.
    private var head: HTTPRequest?
    private var bodyBytes = 0
    /// Whether the request was refused after it had been passed on: what its route writes is dropped.
    private var refusedInBody = false
    private var answerStarted = false
    /// Whether the answer being written asked to close the connection.
    private var answerCloses = false

    init(policy: IngressPolicy) {
        self.policy = policy
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        if case .end = part { requestEnded = true }
        guard !refused else { return }
        switch part {
        case .head(let request):
            if let rejection = Self.rejection(of: request, policy: policy) {
                refused = true
                refuse(rejection, request: request, context: context)
                return
            }
            head = request
        case .body(let bytes):
            bodyBytes += bytes.readableBytes
            if bodyBytes > policy.contentLengthCap, let head {
                refused = true
                refusedInBody = true
                if answerStarted {
                    requestEnded = true
                    context.triggerUserOutboundEvent(HTTP2StreamStopper.Stop(), promise: nil)
                } else {
                    refuse(.contentTooLarge(limit: policy.contentLengthCap), request: head, context: context)
                }
                return
            }
        case .end:
            break
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if refusedInBody {
            promise?.fail(ChannelError.outputClosed)
            return
        }
        switch unwrapOutboundIn(data) {
        case .head(var response):
            answerStarted = true
            answerCloses = response.headerFields[.connection]?.lowercased() == "close"
            for name in Self.connectionSpecific { response.headerFields[name] = nil }
            context.write(wrapOutboundOut(.head(response)), promise: promise)
        case .end:
            guard answerCloses else {
                context.write(data, promise: promise)
                return
            }
            endAnswerThenStopRequest(context: context, promise: promise)
        case .body:
            context.write(data, promise: promise)
        }
    }

    /// Fields that only mean something on one HTTP/1.1 connection; HTTP/2 refuses a message carrying them.
    private static let connectionSpecific: [HTTPField.Name] = [.connection, .transferEncoding, .upgrade, HTTPField.Name("Proxy-Connection")!, HTTPField.Name("Keep-Alive")!]

    /// Why `request` is refused under `policy`, or nil when it is within every limit.
    static func rejection(of request: HTTPRequest, policy: IngressPolicy) -> IngressRejection? {
        let requestLine = request.method.rawValue.utf8.count + 1 + (request.path?.utf8.count ?? 0) + " HTTP/1.1".utf8.count
        if requestLine > policy.requestLineBytes { return .requestLineTooLong(limit: policy.requestLineBytes) }
        if request.headerFields.count > policy.headerFields { return .tooManyHeaderFields(limit: policy.headerFields) }
        var headerBytes = 0
        for field in request.headerFields {
            headerBytes += field.name.rawName.utf8.count + 2 + field.value.utf8.count + 2
        }
        if headerBytes > policy.headerBytes { return .headerBlockTooLarge(limit: policy.headerBytes) }
        let declared = request.headerFields[values: .contentLength]
        if declared.count > 1 || declared.contains(where: { Int($0) == nil }) {
            return .malformed("Content-Length must be one decimal number")
        }
        if let length = declared.first.flatMap({ Int($0) }), length > policy.contentLengthCap {
            return .contentTooLarge(limit: policy.contentLengthCap)
        }
        return nil
    }

    private func refuse(_ rejection: IngressRejection, request: HTTPRequest, context: ChannelHandlerContext) {
        let requestID = RequestIDMiddleware.requestID(sent: request.headerFields[.requestID])
        var (fields, body) = Problem(rejection.status, rejection.detail).encoded(requestID: requestID, instance: nil)
        fields[.requestID] = requestID
        fields[.xContentTypeOptions] = "nosniff"
        fields[.contentLength] = String(body.readableBytes)
        context.write(wrapOutboundOut(.head(HTTPResponse(status: rejection.status, headerFields: fields))), promise: nil)
        context.write(wrapOutboundOut(.body(body)), promise: nil)
        endAnswerThenStopRequest(context: context, promise: nil)
    }

    /// Writes the answer's end and, once it has gone out, ends the stream if the request is still
    /// coming. (A reset sent before the answer's frames would discard them.)
    private func endAnswerThenStopRequest(context: ChannelHandlerContext, promise: EventLoopPromise<Void>?) {
        let written = context.eventLoop.makePromise(of: Void.self)
        if let promise { written.futureResult.cascade(to: promise) }
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: written)
        written.futureResult.assumeIsolated().whenSuccess { [self] in
            guard !requestEnded else { return }
            requestEnded = true
            context.triggerUserOutboundEvent(HTTP2StreamStopper.Stop(), promise: nil)
        }
    }
}

/// First in an HTTP/2 stream's pipeline, below the HTTP codec: turns ``Stop`` into RST_STREAM(NO_ERROR).
/// (Closing the stream channel would reset it with CANCEL, which clients report as a failed request.)
final class HTTP2StreamStopper: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = HTTP2Frame.FramePayload
    typealias OutboundOut = HTTP2Frame.FramePayload

    struct Stop {}

    func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        guard event is Stop else {
            context.triggerUserOutboundEvent(event, promise: promise)
            return
        }
        context.writeAndFlush(wrapOutboundOut(.rstStream(.noError)), promise: promise)
    }
}
