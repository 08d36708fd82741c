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

    /// The headers `fields` (a client request's, as admission left them) become for the service:
    /// for the middleware path and for proxied requests answered on the event loop alike.
    /// `peerAddress` is the connection's peer as `SocketAddress.ipAddress` spells it.
    ///
    /// One pass over the fields: hop-by-hop ones, those `Connection` names, the route's checked
    /// credentials and the fields the gateway sets are left out, the rest copied in order.
    func headers(of fields: HTTPFields, peerAddress: String?, overTLS: Bool, requestID: String) -> HTTPHeaders {
        let connectionNamed = HopByHop.connectionNamed(fields[values: .connection])
        var headers = HTTPHeaders()
        headers.reserveCapacity(fields.count + 4)
        var priorForwardedFor: String?
        for field in fields {
            let name = field.name.canonicalName
            switch name {
            case "x-forwarded-for":
                // Client-sent copies never get here (IngressPolicy.alwaysDroppedHeaders); a trusted
                // proxy's X-Forwarded-For does, and names the client.
                if priorForwardedFor == nil { priorForwardedFor = field.value }
                continue
            case "x-real-ip", "x-forwarded-proto", "x-request-id":
                continue
            default:
                if HopByHop.contains(name) || credentialHeaders.contains(name) || connectionNamed.contains(name) { continue }
            }
            headers.add(name: field.name.rawName, value: field.value)
        }
        if let peerAddress {
            headers.add(name: "x-forwarded-for", value: priorForwardedFor.map { "\($0), \(peerAddress)" } ?? peerAddress)
            let client = ClientAddress.resolve(
                peerAddress: peerAddress,
                forwardedFor: fields[values: .xForwardedFor],
                forwarded: fields[values: .forwarded],
                trusted: trustedProxies
            )
            headers.add(name: "x-real-ip", value: client)
        } else if let priorForwardedFor {
            headers.add(name: "x-forwarded-for", value: priorForwardedFor)
        }
        headers.add(name: "x-forwarded-proto", value: overTLS ? "https" : "http")
        headers.add(name: "x-request-id", value: requestID)
        return headers
    }
}
