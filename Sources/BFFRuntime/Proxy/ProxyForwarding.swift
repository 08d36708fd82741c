import BFFSpec
import Hummingbird
import NIOCore
import NIOHTTP1
import NIOHTTPTypesHTTP1

/// What a proxied request's head carries to the service, per route: the client's headers without
/// hop-by-hop ones (and any `Connection` names) and, unless the route keeps them
/// (`forward_credentials: true`), without the credentials its `auth:` checked; then the gateway's
/// own `X-Forwarded-For`, `X-Real-IP`, `X-Forwarded-Proto` and `X-Request-ID`.
struct ProxyForwarding: Sendable {
    /// Lowercased names of the credential headers removed: `authorization` on a `jwt` route, the
    /// API key header on an `api_key` route; empty on public routes and with `forward_credentials`.
    let credentialHeaders: [String]
    /// The `trusted_proxies` networks, for the client address `X-Real-IP` gives.
    let trustedProxies: [CIDR]

    init(proxy: ProxySpec, auth: EndpointAuthSpec?, edge: EdgeSpec) {
        var credentials: [String] = []
        if let auth, !auth.isPublic, !proxy.forwardCredentials {
            if auth.methods.contains(.jwt) { credentials.append("authorization") }
            if auth.methods.contains(.apiKey) { credentials.append((edge.auth?.apiKeys?.header ?? APIKeySpec.defaultHeader).lowercased()) }
        }
        credentialHeaders = credentials
        trustedProxies = edge.trustedProxies
    }

    /// The client's headers as the service gets them.
    func headers(of request: Request, context: BFFRequestContext) -> HTTPHeaders {
        headers(of: request.headers, peerAddress: context.remoteAddress?.ipAddress, overTLS: context.tls != nil, requestID: context.requestID)
    }

    /// The headers `fields` (a client request's, as admission left them) become for the service,
    /// on the middleware path. `peerAddress` is the connection's peer as `SocketAddress.ipAddress` spells it.
    func headers(of fields: HTTPFields, peerAddress: String?, overTLS: Bool, requestID: String) -> HTTPHeaders {
        var headers = HTTPHeaders()
        headers.reserveCapacity(fields.count + 4)
        forEachField(of: fields, peerAddress: peerAddress, overTLS: overTLS, requestID: requestID, leavingOut: nil) { headers.add(name: $0, value: $1) }
        return headers
    }

    /// The same fields as field lines, for a proxied request answered on the event loop: each
    /// name and value is legal as it stands (`HTTPFields` holds only legal ones, and the gateway's
    /// own values are an address, a scheme and a request id of printable ASCII).
    /// - Parameter leavingOut: a field the caller writes itself (the deadline header), left out in any letter case.
    func writeFieldLines(of fields: HTTPFields, peerAddress: String?, overTLS: Bool, requestID: String, leavingOut: String?, into bytes: inout ByteBuffer) {
        // Room for every client field and the gateway's own four; should that not do, the buffer's
        // own writes take over.
        var expected = 160 + requestID.utf8.count + 2 * (peerAddress?.utf8.count ?? 0)
        for field in fields { expected += field.name.rawName.utf8.count + field.value.utf8.count + 4 }
        func write(to sink: inout some ByteSink) {
            forEachField(of: fields, peerAddress: peerAddress, overTLS: overTLS, requestID: requestID, leavingOut: leavingOut) { sink.writeFieldLine($0, $1) }
        }
        bytes.writeDirect(expecting: expected, { write(to: &$0) }, orElse: { write(to: &$0) })
    }

    /// One pass over the fields, for both paths: hop-by-hop ones, those `Connection` names, the
    /// route's checked credentials and the fields the gateway sets are left out, the rest given to
    /// `field` in order, then the gateway's own.
    private func forEachField(
        of fields: HTTPFields, peerAddress: String?, overTLS: Bool, requestID: String, leavingOut: String?, _ field: (String, String) -> Void
    ) {
        let connectionNamed = HopByHop.connectionNamed(fields[values: .connection])
        var priorForwardedFor: String?
        for each in fields {
            let name = each.name.canonicalName
            switch name {
            case "x-forwarded-for":
                // Client-sent copies never get here (IngressPolicy.alwaysDroppedHeaders); a trusted
                // proxy's X-Forwarded-For does, and names the client.
                if priorForwardedFor == nil { priorForwardedFor = each.value }
                continue
            case "x-real-ip", "x-forwarded-proto", "x-request-id":
                continue
            default:
                if HopByHop.contains(name) || credentialHeaders.contains(name) || connectionNamed.contains(name) { continue }
                if let leavingOut, HTTP1Syntax.namesEqual(name, leavingOut) { continue }
            }
            field(each.name.rawName, each.value)
        }
        if let peerAddress {
            field("x-forwarded-for", priorForwardedFor.map { "\($0), \(peerAddress)" } ?? peerAddress)
            let client = ClientAddress.resolve(
                peerAddress: peerAddress,
                forwardedFor: fields[values: .xForwardedFor],
                forwarded: fields[values: .forwarded],
                trusted: trustedProxies
            )
            field("x-real-ip", client)
        } else if let priorForwardedFor {
            field("x-forwarded-for", priorForwardedFor)
        }
        field("x-forwarded-proto", overTLS ? "https" : "http")
        field("x-request-id", requestID)
    }
}
