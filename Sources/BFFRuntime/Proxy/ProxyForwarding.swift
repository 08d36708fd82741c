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
        headers(of: request.headers, peer: context.remoteAddress, overTLS: context.tls != nil, requestID: context.requestID)
    }

    /// The headers `fields` (a client request's, as admission left them) become for the service:
    /// for the middleware path and for proxied requests answered on the event loop alike.
    func headers(of fields: HTTPFields, peer: SocketAddress?, overTLS: Bool, requestID: String) -> HTTPHeaders {
        var headers = HTTPHeaders(fields)
        HopByHop.strip(&headers)
        for name in credentialHeaders { headers.remove(name: name) }
        if let address = peer?.ipAddress {
            // Client-sent copies never get here (IngressPolicy.alwaysDroppedHeaders); a trusted
            // proxy's X-Forwarded-For does, and names the client.
            let prior = headers.first(name: "x-forwarded-for")
            headers.replaceOrAdd(name: "x-forwarded-for", value: prior.map { "\($0), \(address)" } ?? address)
            let client = ClientAddress.resolve(
                peer: peer,
                forwardedFor: fields[values: .xForwardedFor],
                forwarded: fields[values: .forwarded],
                trusted: trustedProxies
            )
            headers.replaceOrAdd(name: "x-real-ip", value: client)
        }
        headers.replaceOrAdd(name: "x-forwarded-proto", value: overTLS ? "https" : "http")
        headers.replaceOrAdd(name: "x-request-id", value: requestID)
        return headers
    }
}
