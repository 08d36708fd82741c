import BFFSpec
import Foundation
import HTTPTypes
import NIOCore
import NIOHTTPTypes

/// Cleans every request head after decoding, before routing: removes headers a client must not be
/// able to set (the gateway's own namespace and identity headers, the policy's dropped headers:
/// client-address, host, URL- and method-override ones and the spec's own, forwarding headers from
/// untrusted peers) and every hop-by-hop header, including those the client names in `Connection`.
/// It runs before the gateway adds headers of its own, so `Connection: X-Request-ID` cannot remove
/// what the gateway sets later.
///
/// Also reports the end of every response it passes on to ``RequestHeadGuard`` with
/// ``IngressResponseEnded``, followed by ``IngressCloseAfterResponse`` when that response said
/// `Connection: close` before its request's body had ended.
final class IngressHeaderSanitizer: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let trustedProxies: [CIDR]
    private let dropped: Set<String>
    private var isPeerTrusted = false
    /// Responses written whole past the HTTP encoder (``RequestHeadGuard/writeWholeResponse(_:)``)
    /// whose `end` still comes this way, so that the connection-state handler further in sees each
    /// response end; those ends stop here.
    private var endsWrittenElsewhere = 0
    /// Requests whose end has arrived, and responses whose end has gone out, on this connection.
    private var requestsEnded = 0
    private var responsesEnded = 0
    /// Whether the response being written says `Connection: close`.
    private var responseCloses = false

    init(policy: IngressPolicy) {
        trustedProxies = policy.trustedProxies
        dropped = policy.droppedHeaders
    }

    func handlerAdded(context: ChannelHandlerContext) {
        isPeerTrusted = ClientAddress.isTrusted(context.channel.remoteAddress, trusted: trustedProxies)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(var request) = unwrapInboundIn(data) else {
            if case .end = unwrapInboundIn(data) { requestsEnded += 1 }
            context.fireChannelRead(data)
            return
        }
        request.headerFields = Self.sanitized(request.headerFields, dropping: dropped, peerIsTrusted: isPeerTrusted)
        context.fireChannelRead(wrapInboundOut(.head(request)))
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(let response):
            responseCloses = response.headerFields[.connection]?.lowercased() == "close"
            context.write(data, promise: promise)
            return
        case .body:
            context.write(data, promise: promise)
            return
        case .end:
            break
        }
        responsesEnded += 1
        if endsWrittenElsewhere > 0 {
            endsWrittenElsewhere -= 1
            promise?.succeed()
            return
        }
        context.write(data, promise: promise)
        context.triggerUserOutboundEvent(IngressResponseEnded(), promise: nil)
        if responseCloses && requestsEnded < responsesEnded {
            context.triggerUserOutboundEvent(IngressCloseAfterResponse(), promise: nil)
        }
        responseCloses = false
    }

    /// Makes the next response end written through this handler stop here.
    func expectEndWrittenElsewhere() {
        endsWrittenElsewhere += 1
    }

    // MARK: Rules

    /// `fields` without the headers a client may not send (`dropped` and the fixed rules below).
    /// `Connection` keeps only its `close` or `keep-alive` token, which the server's keep-alive
    /// handling reads.
    static func sanitized(_ fields: HTTPFields, dropping dropped: Set<String>, peerIsTrusted: Bool) -> HTTPFields {
        var named: Set<String> = []
        var close = false
        var keepAlive = false
        for value in fields[values: .connection] {
            for token in value.split(separator: ",") {
                let token = token.trimmingCharacters(in: .whitespaces).lowercased()
                switch token {
                case "close": close = true
                case "keep-alive": keepAlive = true
                default: named.insert(token)
                }
            }
        }
        var kept = HTTPFields()
        kept.reserveCapacity(fields.count)
        for field in fields {
            let name = field.name.canonicalName
            if named.contains(name) && !framingHeaders.contains(name) { continue }
            if dropped.contains(name) || isDropped(name, peerIsTrusted: peerIsTrusted) { continue }
            kept.append(field)
        }
        if close {
            kept[.connection] = "close"
        } else if keepAlive {
            kept[.connection] = "keep-alive"
        }
        // After a request that asks to upgrade, NIO's decoder reads no further request from the
        // connection, so the answer closes it (a WebSocket switch ends it anyway). A WebSocket
        // handshake keeps `Upgrade: websocket` for the route to see; only a `websocket: true`
        // route acts on it, and no proxy forwards it.
        if named.contains("upgrade"), let upgrade = fields[.upgrade] {
            if upgrade.lowercased() == "websocket" { kept[.upgrade] = "websocket" }
            kept[.connection] = "close"
        }
        return kept
    }

    /// Body framing was settled by the decoder from these; removing them afterwards would only make
    /// the head disagree with the body that follows.
    private static let framingHeaders: Set<String> = ["content-length", "transfer-encoding"]

    private static let hopByHop: Set<String> = ["connection", "keep-alive", "te", "trailer", "upgrade"]
    /// Prefixes of headers only the gateway sets: its own namespace and the identity it forwards.
    private static let gatewayPrefixes = ["x-bff-", "x-user-", "proxy-"]

    private static func isDropped(_ name: String, peerIsTrusted: Bool) -> Bool {
        if hopByHop.contains(name) { return true }
        if gatewayPrefixes.contains(where: name.hasPrefix) { return true }
        return !peerIsTrusted && (name == "forwarded" || name.hasPrefix("x-forwarded-"))
    }
}
