/// One BFF's spec: what it listens on, which services it may call, and its endpoints.
///
/// Produced by ``SpecLoader`` with includes merged, defaults filled and every rule checked, so the
/// runtime never sees an invalid or partial spec.
public struct ClientSpec: Sendable {
    public var name: String
    public var listen: HostPort?
    /// TLS on the public listener; nil serves plaintext.
    public var tls: TLSSpec?
    /// HTTP/2 on the public listener.
    public var http2 = HTTP2Spec()
    /// `admin_listen`: where operators read `/metrics`; nil leaves it to the launcher's default.
    public var adminListen: AdminListen?
    /// How upstream calls learn the time they have left.
    public var deadlines = DeadlineSpec()
    public var services: [String: ServiceSpec]
    public var endpoints: [EndpointSpec]
    /// Auth, rate limits, CORS and request limits.
    public var edge: EdgeSpec
    /// The store behind every `cache:` of this BFF.
    public var cacheStore = CacheStoreSpec()
    /// Trace context and span export; nil traces nothing.
    public var tracing: TracingSpec?
    /// The file the spec was loaded from.
    public var file: String
    /// The files `include:` read, directly or through other includes (canonical paths, sorted).
    public var includedFiles: [String] = []

    public init(name: String, listen: HostPort?, services: [String: ServiceSpec], endpoints: [EndpointSpec], edge: EdgeSpec = EdgeSpec(), file: String) {
        self.name = name
        self.listen = listen
        self.services = services
        self.endpoints = endpoints
        self.edge = edge
        self.file = file
    }
}

/// Where a BFF's admin listener (`/metrics`, `/health`, `/ready`) listens, or that it has none.
public enum AdminListen: Sendable, Hashable {
    case address(HostPort)
    case off

    /// Parses `127.0.0.1:9081` or `off`; nil for anything else.
    public init?(_ text: String) {
        if text == "off" {
            self = .off
        } else if let address = HostPort(text) {
            self = .address(address)
        } else {
            return nil
        }
    }
}

/// A `host:port` pair to listen on.
public struct HostPort: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `127.0.0.1:8081`, `[::1]:8081` or `:8081` (all interfaces).
    public init?(_ text: String) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else {
            return nil
        }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        self.init(host: host.isEmpty ? "0.0.0.0" : host, port: port)
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// A backend service the BFF may call.
public struct ServiceSpec: Sendable {
    public var name: String
    public var url: UpstreamURL
    /// Default timeout for calls to this service.
    public var timeout: Duration
    /// How long establishing a connection may take.
    public var connectTimeout: Duration
    /// Largest response body accepted from this service; larger answers count as errors.
    public var maxBodyBytes: Int
    /// PEM file of the certificate authorities trusted for an https service, instead of the system's.
    public var caFile: String?
    /// Where the service runs: `url`, or each of `urls`. The first is `url`.
    public var instances: [ServiceInstanceSpec]
    public var balance: BalanceStrategy = .leastOutstanding
    public var healthCheck: HealthCheckSpec?
    /// Passive ejection of failing instances; nil turns it off (`outlier: off`).
    public var outlier: OutlierSpec? = .default
    public var circuitBreaker: CircuitBreakerSpec?
    public var retry: RetrySpec?
    /// Set, calls to the service are gRPC calls (`method:`), over HTTP/2.
    public var grpc: GRPCServiceSpec?
    /// The service's own OpenAPI document, for the schemas of the sections its calls fill.
    public var openAPI: ServiceOpenAPISpec?
    public var location: SourceLocation

    public static let defaultTimeout: Duration = .seconds(1)
    public static let defaultConnectTimeout: Duration = .milliseconds(500)
    public static let defaultMaxBodyBytes = 10 * 1024 * 1024

    public init(
        name: String,
        url: UpstreamURL,
        timeout: Duration = ServiceSpec.defaultTimeout,
        connectTimeout: Duration = ServiceSpec.defaultConnectTimeout,
        maxBodyBytes: Int = ServiceSpec.defaultMaxBodyBytes,
        caFile: String? = nil,
        location: SourceLocation
    ) {
        self.name = name
        self.url = url
        self.timeout = timeout
        self.connectTimeout = connectTimeout
        self.maxBodyBytes = maxBodyBytes
        self.caFile = caFile
        self.instances = [ServiceInstanceSpec(url: url)]
        self.location = location
    }
}

/// A service's base URL: scheme, host and port fixed by the spec, never by a request.
public struct UpstreamURL: Sendable, Hashable, CustomStringConvertible {
    public var scheme: String
    public var host: String
    public var port: Int
    /// A path prefix every call's path is appended to (no trailing slash), often empty.
    public var basePath: String

    public var isTLS: Bool { scheme == "https" }

    /// Host header value: the port is left out when it is the scheme's default.
    public var hostHeader: String {
        let defaultPort = isTLS ? 443 : 80
        let host = self.host.contains(":") ? "[\(self.host)]" : self.host
        return port == defaultPort ? host : "\(host):\(port)"
    }

    public var description: String { "\(scheme)://\(hostHeader)\(basePath)" }

    /// Parses `http://host:port/base`; nil for anything else (userinfo, query, fragment, other schemes).
    public init?(_ text: String) {
        let scheme: String
        var rest: Substring
        if text.hasPrefix("http://") {
            scheme = "http"
            rest = text.dropFirst(7)
        } else if text.hasPrefix("https://") {
            scheme = "https"
            rest = text.dropFirst(8)
        } else {
            return nil
        }
        guard !rest.contains("@"), !rest.contains("?"), !rest.contains("#") else { return nil }
        var basePath = ""
        if let slash = rest.firstIndex(of: "/") {
            basePath = String(rest[slash...])
            rest = rest[..<slash]
            while basePath.hasSuffix("/") { basePath.removeLast() }
        }
        var host = String(rest)
        var port = scheme == "https" ? 443 : 80
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { return nil }
            let after = host[host.index(after: close)...]
            if after.hasPrefix(":") {
                guard let p = Int(after.dropFirst()), (1...65535).contains(p) else { return nil }
                port = p
            } else if !after.isEmpty {
                return nil
            }
            host = String(host[host.index(after: host.startIndex)..<close])
        } else if let colon = host.lastIndex(of: ":") {
            guard let p = Int(host[host.index(after: colon)...]), (1...65535).contains(p) else { return nil }
            port = p
            host = String(host[..<colon])
        }
        guard !host.isEmpty else { return nil }
        self.scheme = scheme
        self.host = host
        self.port = port
        self.basePath = basePath
    }
}

/// A route the BFF serves: an aggregation over calls, or a proxy to one service.
public struct EndpointSpec: Sendable {
    public enum Kind: Sendable {
        case aggregate(AggregateSpec)
        case proxy(ProxySpec)
    }

    public var route: RoutePattern
    /// Deadline for the whole endpoint: whatever is still running then is cancelled.
    public var timeout: Duration
    public var kind: Kind
    /// Who may call it; nil when the endpoint says nothing (allowed only in a BFF without auth).
    public var auth: EndpointAuthSpec?
    /// Limits of this endpoint, on top of the BFF-wide ones.
    public var rateLimits: [RateLimitSpec]
    /// Reuse of the composed body (aggregations only).
    public var cache: CacheSpec?
    public var location: SourceLocation

    public static let defaultTimeout: Duration = .seconds(2)

    public init(
        route: RoutePattern,
        timeout: Duration = EndpointSpec.defaultTimeout,
        kind: Kind,
        auth: EndpointAuthSpec? = nil,
        rateLimits: [RateLimitSpec] = [],
        cache: CacheSpec? = nil,
        location: SourceLocation
    ) {
        self.route = route
        self.timeout = timeout
        self.kind = kind
        self.auth = auth
        self.rateLimits = rateLimits
        self.cache = cache
        self.location = location
    }
}

/// An aggregation: calls forming a DAG, and how to shape their results.
public struct AggregateSpec: Sendable {
    /// Calls in the order they were declared.
    public var calls: [CallSpec]
    /// Output fields; nil means `{ <call>: <result>, ... }` in declaration order.
    public var response: [ResponseFieldSpec]?
    /// Whether the body carries `_meta`; the headers are always sent.
    public var meta: Bool

    public init(calls: [CallSpec], response: [ResponseFieldSpec]?, meta: Bool = true) {
        self.calls = calls
        self.response = response
        self.meta = meta
    }
}

/// One upstream call of an aggregation.
public struct CallSpec: Sendable {
    public var name: String
    public var service: String
    public var path: Template
    public var headers: [(name: String, value: Template)]
    /// Per-call timeout; nil means the service's timeout.
    public var timeout: Duration?
    public var required: Bool
    /// What an optional call yields when it fails; nil means JSON null.
    public var fallback: JSONValue?
    /// Reuse of the service's answers.
    public var cache: CacheSpec?
    /// A second request to another instance when the first is slow; nil sends none.
    public var hedge: HedgeSpec?
    /// `method: users.v1.Users/GetUser` on a gRPC service; the call's ``path`` is then the method's
    /// HTTP/2 path (`/users.v1.Users/GetUser`).
    public var method: String?
    /// The request message of a gRPC call; nil sends the empty message.
    public var body: MessageTemplate?
    /// `schema:` the JSON Schema of the call's result, for the BFF's OpenAPI document; it wins
    /// over the service's `openapi:` document.
    public var schema: JSONValue?
    public var location: SourceLocation

    public init(
        name: String,
        service: String,
        path: Template,
        headers: [(name: String, value: Template)] = [],
        timeout: Duration? = nil,
        required: Bool = false,
        fallback: JSONValue? = nil,
        location: SourceLocation
    ) {
        self.name = name
        self.service = service
        self.path = path
        self.headers = headers
        self.timeout = timeout
        self.required = required
        self.fallback = fallback
        self.location = location
    }

    /// Every placeholder of the call: its path, headers and message.
    public var variables: [TemplateVariable] {
        path.variables + headers.flatMap(\.value.variables) + (body?.variables ?? [])
    }

    /// Every call this one reads from.
    public var dependencies: Set<String> {
        headers.reduce(path.callDependencies) { $0.union($1.value.callDependencies) }.union(body?.callDependencies ?? [])
    }
}

/// One field of a shaped aggregation response.
public struct ResponseFieldSpec: Sendable {
    public var key: String
    /// The call the value comes from.
    public var call: String
    /// A path inside the call's JSON (`from: user.address.city`); empty for the whole result.
    public var path: [String]
    /// Keep only these members of an object (or of each object in an array).
    public var fields: [String]?
    /// Keep only the first N elements of an array.
    public var limit: Int?
    public var location: SourceLocation

    public init(key: String, call: String, path: [String] = [], fields: [String]? = nil, limit: Int? = nil, location: SourceLocation) {
        self.key = key
        self.call = call
        self.path = path
        self.fields = fields
        self.limit = limit
        self.location = location
    }

    /// Whether the call's bytes can be spliced in unchanged.
    public var isPassThrough: Bool { path.isEmpty && fields == nil && limit == nil }
}

/// A plain proxied route.
public struct ProxySpec: Sendable {
    public var service: String
    public var path: Template
    /// Time allowed for the upstream to start answering; nil means the service's timeout.
    public var timeout: Duration?
    /// Set, the route proxies WebSocket connections (`websocket: true`) and nothing else.
    public var websocket: WebSocketSpec?
    /// Whether the credentials the route's `auth:` checked (`Authorization` for `jwt`, the API key
    /// header for `api_key`) reach the service. Off by default: the gateway has checked them, and a
    /// service should trust `forward_claims`, not hold a credential it could replay.
    public var forwardCredentials = false

    public init(service: String, path: Template, timeout: Duration? = nil) {
        self.service = service
        self.path = path
        self.timeout = timeout
    }
}

/// A proxied WebSocket's limits: `websocket: true`, or `websocket: { idle_timeout: 5m, max_message: 4MiB }`.
public struct WebSocketSpec: Sendable {
    /// A socket with no frame either way for this long is closed (1001) on both sides.
    public var idleTimeout: Duration = .seconds(300)
    /// Largest message, all its frames together; a larger one closes the socket with 1009.
    public var maxMessageBytes: Int = 4 * 1024 * 1024

    public init() {}
}
