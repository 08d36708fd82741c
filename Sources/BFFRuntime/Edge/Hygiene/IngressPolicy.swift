import BFFSpec
import HummingbirdCore
import NIOCore

/// What a connection must respect before routing sees a request: head sizes and timing, the largest
/// body any route accepts, and whose forwarding headers are believed. Built once per server from the
/// spec's `edge:` section.
struct IngressPolicy: Sendable {
    /// Longest request line in bytes (CRLF excluded); longer is answered 414.
    var requestLineBytes: Int
    /// Largest header block in bytes (every field line with its CRLF); larger is answered 431.
    var headerBytes: Int
    /// Most header fields; more is answered 431.
    var headerFields: Int
    /// Largest declared Content-Length any route accepts (the proxy cap); larger is answered 413
    /// before the body is read. Aggregated routes apply their smaller cap in the responder.
    var contentLengthCap: Int
    /// Time from a request head's first byte until its last.
    var headerTimeout: Duration
    /// Keep-alive connections idle this long are closed.
    var idleTimeout: Duration
    /// Connections served at once.
    var maxConnections: Int
    /// Peers whose `X-Forwarded-*` and `Forwarded` headers are kept.
    var trustedProxies: [CIDR]
    /// Lowercased names of the request headers removed before routing, besides hop-by-hop ones,
    /// the gateway's own prefixes and untrusted forwarding headers: ``alwaysDroppedHeaders`` and the
    /// spec's `hygiene: { drop_headers }`.
    var droppedHeaders: Set<String>
    /// Lowercased API key header; a request carrying it twice is refused.
    var apiKeyHeader: String
    /// How long a refused connection keeps draining the client's bytes after the answer, so the
    /// kernel does not reset the connection (and discard the answer) over unread request data.
    var lingerTimeout: Duration = .seconds(2)
    /// How much of the client's bytes a linger discards before closing anyway.
    var lingerBytes = 1024 * 1024

    init(edge: EdgeSpec) {
        requestLineBytes = edge.limits.requestLineBytes
        headerBytes = edge.limits.headerBytes
        headerFields = edge.limits.headerFields
        contentLengthCap = max(edge.limits.proxyBodyBytes, edge.limits.bodyBytes)
        headerTimeout = edge.limits.headerTimeout
        idleTimeout = edge.limits.idleTimeout
        maxConnections = edge.limits.maxConnections
        trustedProxies = edge.trustedProxies
        apiKeyHeader = (edge.auth?.apiKeys?.header ?? APIKeySpec.defaultHeader).lowercased()
        droppedHeaders = Self.alwaysDroppedHeaders.union(edge.hygiene.dropHeaders)
    }

    /// Headers a client may use to pose as another address or host, or to have a service act on
    /// another URL or method than the one routed. Backends and their frameworks believe these
    /// (`X-Real-IP` in nginx's realip module, `X-HTTP-Method-Override` in Express and Rails), so no
    /// client copy may pass; the gateway sets `X-Real-IP` itself from the address it resolved.
    static let alwaysDroppedHeaders: Set<String> = [
        // client address
        "x-real-ip", "true-client-ip", "x-client-ip", "client-ip", "cf-connecting-ip", "fastly-client-ip",
        "x-cluster-client-ip", "x-originating-ip", "x-remote-ip", "x-remote-addr",
        // host, URL and method overrides
        "x-host", "x-original-url", "x-rewrite-url", "x-http-method-override", "x-http-method", "x-method-override",
    ]

    /// Hummingbird's HTTP/1 settings under this policy: the idle timeout, the header sanitiser after
    /// the decoder, and decoder limits above ours so that ``RequestHeadGuard`` (which has already
    /// vetted every head) answers oversize heads with 414/431 instead of the decoder's bare 400.
    var http1Configuration: HTTP1Channel.Configuration {
        let policy = self
        let headLimit = requestLineBytes + headerBytes + 1024
        return HTTP1Channel.Configuration(
            additionalChannelHandlers: [IngressHeaderSanitizer(policy: policy)],
            idleTimeout: .nanoseconds(idleTimeout.nanosecondsValue),
            httpDecoderConfiguration: .init(
                maxHeaderFieldSize: max(80 * 1024, headLimit),
                maxHeaderListSize: max(80 * 1024, headLimit),
                maxHeaderFieldCount: max(1000, headerFields + 1)
            )
        )
    }
}
