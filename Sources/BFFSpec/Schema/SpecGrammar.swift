/// What a key's value may be, as the loader reads it.
///
/// The loader reads every scalar as its text, so `burst: 10` and `burst: "10"` are the same value;
/// the kinds below say which texts are accepted, not which YAML type was written.
indirect enum SpecValueKind: Sendable {
    /// Any single value, read as text (names, paths, URLs, templates).
    case text
    /// Exactly one of these words.
    case word([String])
    /// A number with an `ms`, `s`, `m` or `h` suffix (``SpecDuration``).
    case duration
    /// A whole number above zero.
    case positiveInteger
    /// A whole number, 0 or more.
    case wholeNumber
    /// A whole number of bytes, or one with a `KiB`, `MiB` or `GiB` suffix.
    case byteSize
    /// `true` or `false`.
    case boolean
    /// A percentage (`20%`) or a fraction (`0.2`) between 0 and 1.
    case share
    /// Text matching a regular expression (ECMA-262, as JSON Schema reads it).
    case pattern(String)
    case list(SpecValueKind, nonEmpty: Bool = false)
    case section(SpecSection)
    /// A mapping of free names (matching `names` when given) to values.
    case map(SpecValueKind, names: String? = nil)
    /// Any one of these kinds.
    case either([SpecValueKind])
    /// Any YAML at all (fallbacks and gRPC bodies).
    case anything

    static func words<Word: RawRepresentable & CaseIterable>(_ type: Word.Type) -> SpecValueKind where Word.RawValue == String {
        .word(type.allCases.map(\.rawValue))
    }
}

/// One key of a section: its name, what its value is, and a line saying what it does.
struct SpecField: Sendable {
    let key: String
    let kind: SpecValueKind
    let summary: String
    let isRequired: Bool

    init(_ key: String, _ kind: SpecValueKind, _ summary: String, required: Bool = false) {
        self.key = key
        self.kind = kind
        self.summary = summary
        self.isRequired = required
    }
}

/// A mapping in the spec language with a fixed set of keys.
struct SpecSection: Sendable {
    /// The section's name in the JSON Schema's `$defs`.
    let name: String
    let summary: String
    let fields: [SpecField]

    /// The keys the loader accepts in this section, in the order its hints list them.
    var keys: [String] { fields.map(\.key) }
}

/// The spec language: every section the loader reads, each key and what its value may be.
///
/// The loader's tables of allowed keys are read from here and ``SpecSchema`` writes JSON Schema from it,
/// so a key the loader accepts is a key the schema describes. Adding a key to the language means adding
/// it here, then reading it in the loader.
enum SpecGrammar {
    // MARK: Files

    static let spec = SpecSection(
        name: "spec",
        summary: "A client's BFF spec: its listener, services, edge policy and endpoints.",
        fields: [
            SpecField("name", .text, "The client's name, e.g. mobile.", required: true),
            SpecField("listen", .text, "The address to serve on, host:port, e.g. 127.0.0.1:8081."),
            SpecField("tls", .section(tls), "Serve HTTPS with this certificate (and ask for client certificates)."),
            SpecField("http2", .either([.boolean, .section(http2)]), "HTTP/2 on the listener: true or false, or its settings."),
            SpecField("admin_listen", .text, "The admin listener's host:port, or off for none."),
            SpecField("deadlines", .section(deadlines), "How the time left is passed on to services."),
            SpecField("cache_store", .section(cacheStore), "Where cached responses are kept."),
            SpecField("tracing", .section(tracing), "W3C trace context for requests and calls, and spans exported over OTLP/HTTP."),
        ] + includeFields + [
            SpecField("endpoints", .list(.section(endpoint)), "The routes this client serves."),
        ] + edgeFields
    )

    static let tracing = SpecSection(
        name: "tracing",
        summary: "Trace context taken or started per request, a child span per call, spans sent to an OTLP/HTTP collector.",
        fields: [
            SpecField("otlp", .text, "The collector's OTLP/HTTP URL, e.g. http://otel-collector:4318 (/v1/traces is added when it has no path).", required: true),
            SpecField("sample", .share, "The share of new traces recorded, e.g. 10%; a trusted incoming traceparent decides for its own trace."),
            SpecField("trust_incoming", .boolean, "Take traceparent and tracestate from any client, not only from trusted_proxies."),
            SpecField("service_name", .text, "service.name on the spans; <name>-bff by default."),
        ]
    )

    static let include = SpecSection(
        name: "include",
        summary: "A shared file included by client specs: services and family-wide edge defaults.",
        fields: includeFields + edgeFields
    )

    private static let includeFields = [
        SpecField("include", .either([.text, .list(.text)]), "Files to include, relative to this one: services and edge defaults shared by several clients."),
        SpecField("services", .map(.section(service), names: "^[A-Za-z0-9_-]+$"), "The upstream services calls and proxies name."),
    ]

    /// Edge sections, allowed in a client's spec and in an include (as family-wide defaults).
    static let edgeFields = [
        SpecField("auth", .section(auth), "How callers prove who they are."),
        SpecField("plans", .map(.section(plan)), "Rate and quota plans that API keys belong to."),
        SpecField("rate_limits", .section(rateLimits), "BFF-wide rate limits and where their counters live."),
        SpecField("trusted_proxies", .list(.text), "Addresses or CIDRs whose X-Forwarded-For is believed."),
        SpecField("cors", .section(cors), "Which browser origins may call."),
        SpecField("limits", .section(limits), "Request size, time and connection limits."),
        SpecField("hygiene", .section(hygiene), "Request headers removed at ingress, besides those always removed."),
        SpecField("security_headers", .section(securityHeaders), "Security headers added to responses."),
    ]

    // MARK: Listener

    static let tls = SpecSection(
        name: "tls",
        summary: "HTTPS for the client listener.",
        fields: [
            SpecField("cert_file", .text, "PEM file with the server certificate chain, relative to this spec.", required: true),
            SpecField("key_file", .text, "PEM file with the certificate's private key, relative to this spec.", required: true),
            SpecField("min_version", .words(TLSVersion.self), "The oldest TLS version accepted: \"1.2\" or \"1.3\"."),
            SpecField("client_ca_file", .text, "PEM file of CAs client certificates must chain to; asks callers for certificates."),
        ]
    )

    static let http2 = SpecSection(
        name: "http2",
        summary: "HTTP/2 on the client listener.",
        fields: [
            SpecField("enabled", .boolean, "Whether HTTP/2 is served (true when the section is given)."),
            SpecField("max_concurrent_streams", .positiveInteger, "Streams one connection may have open at once."),
            SpecField("max_resets", .positiveInteger, "Streams a client may reset within reset_window before the connection is closed."),
            SpecField("reset_window", .duration, "The window max_resets counts over."),
        ]
    )

    static let deadlines = SpecSection(
        name: "deadlines",
        summary: "Deadline propagation to services.",
        fields: [
            SpecField("header", .text, "The header carrying the milliseconds left, or off to send none."),
            SpecField("min_remaining", .duration, "Calls with less time than this left are not started."),
        ]
    )

    // MARK: Services

    static let service = SpecSection(
        name: "service",
        summary: "An upstream service: where it is and how calls to it behave.",
        fields: [
            SpecField("url", .text, "The service's base URL, http:// or https://."),
            SpecField("urls", .list(.either([.text, .section(instance)]), nonEmpty: true), "Several instances: URLs, or { url, weight }."),
            SpecField("timeout", .duration, "How long one call may take."),
            SpecField("connect_timeout", .duration, "How long connecting may take."),
            SpecField("max_body", .byteSize, "The largest response body read, e.g. 10MiB."),
            SpecField("ca_file", .text, "PEM file of CAs the service's certificate must chain to, relative to this spec."),
            SpecField("grpc", .section(grpc), "The service speaks gRPC; calls name a method."),
            SpecField("openapi", .text, "The service's OpenAPI 3 document (JSON or YAML, relative to this spec); calls to its operations take their 200 schema from it."),
        ] + resilienceServiceFields
    )

    static let resilienceServiceFields = [
        SpecField("balance", .words(BalanceStrategy.self), "How calls choose among instances."),
        SpecField("health_check", .section(healthCheck), "Ask each instance for its health and take failing ones out."),
        SpecField("outlier", .either([.word(["off"]), .section(outlier)]), "Leave out instances that fail calls in a row, or off."),
        SpecField("circuit_breaker", .section(circuitBreaker), "Fail fast while the service fails too often."),
        SpecField("retry", .section(retry), "Retry failed calls, within a budget."),
    ]

    static let grpc = SpecSection(
        name: "grpc",
        summary: "A gRPC service's API.",
        fields: [
            SpecField("descriptor_set", .text, "The FileDescriptorSet protoc wrote (--include_imports --descriptor_set_out), relative to this spec.", required: true),
        ]
    )

    static let instance = SpecSection(
        name: "instance",
        summary: "One instance of a service.",
        fields: [
            SpecField("url", .text, "The instance's base URL.", required: true),
            SpecField("weight", .positiveInteger, "Its share of calls under balance: weighted."),
        ]
    )

    static let healthCheck = SpecSection(
        name: "health_check",
        summary: "Active health checks of each instance.",
        fields: [
            SpecField("path", .text, "The absolute path asked, e.g. /health."),
            SpecField("interval", .duration, "Time between checks."),
            SpecField("timeout", .duration, "How long a check may take; at most the interval."),
            SpecField("healthy", .positiveInteger, "Successes in a row that bring an instance back."),
            SpecField("unhealthy", .positiveInteger, "Failures in a row that take an instance out."),
        ]
    )

    static let outlier = SpecSection(
        name: "outlier",
        summary: "Passive ejection of instances that fail calls.",
        fields: [
            SpecField("consecutive_failures", .positiveInteger, "Failed calls in a row that eject an instance."),
            SpecField("ejection", .duration, "How long an instance is left out, times the number of its ejections."),
            SpecField("max_ejection", .duration, "The longest an instance is left out."),
            SpecField("max_ejected", .share, "The largest share of instances left out at once."),
        ]
    )

    static let circuitBreaker = SpecSection(
        name: "circuit_breaker",
        summary: "A circuit breaker over a service's calls.",
        fields: [
            SpecField("window", .duration, "The window failures are counted over."),
            SpecField("min_requests", .positiveInteger, "Calls in the window before the breaker may open."),
            SpecField("failure_rate", .share, "The failing share of calls that opens the breaker, e.g. 50%."),
            SpecField("open_for", .duration, "How long the breaker stays open."),
            SpecField("half_open_probes", .positiveInteger, "Trial calls let through while half open."),
        ]
    )

    static let retry = SpecSection(
        name: "retry",
        summary: "Retries of failed calls.",
        fields: [
            SpecField("attempts", .positiveInteger, "Attempts in all, the first one included."),
            SpecField("backoff", .duration, "The first wait between attempts, doubling with jitter."),
            SpecField("max_backoff", .duration, "The longest wait between attempts."),
            SpecField("budget", .share, "Retries as a share of the service's requests, at most."),
            SpecField("min_per_second", .wholeNumber, "Retries per second always allowed, whatever the budget."),
        ]
    )

    // MARK: Endpoints

    static let endpoint = SpecSection(
        name: "endpoint",
        summary: "A route: an aggregation of calls, or a proxy to one service.",
        fields: [
            SpecField("route", .text, "Method and path pattern, e.g. GET /dashboard/{id} or GET /api/{rest*}.", required: true),
            SpecField("timeout", .duration, "How long the whole request may take."),
            SpecField("calls", .map(.section(call)), "The upstream calls to make, by name; a call may read another's result."),
            SpecField("response", .map(.either([.text, .section(responseField)])), "The response's fields, each from a call's result."),
            SpecField("meta", .boolean, "Whether the response carries a _meta block."),
            SpecField("proxy", .section(proxy), "Forward the request to one service instead of aggregating."),
            SpecField("auth", .either([.words(EndpointAuthSpec.Method.self), .list(.words(EndpointAuthSpec.Method.self), nonEmpty: true)]), "Credentials the route accepts: none, jwt, api_key, or a list."),
            SpecField("require", .section(require), "Roles, scopes or client certificate subjects the caller must have."),
            SpecField("rate_limit", .either([.section(rateLimit), .list(.section(rateLimit))]), "Rate limits of this route, on top of the BFF-wide ones."),
            SpecField("cache", .section(endpointCache), "Cache the composed response."),
        ]
    )

    static let call = SpecSection(
        name: "call",
        summary: "One upstream call of an aggregation.",
        fields: [
            SpecField("service", .text, "The service called, by its name under services.", required: true),
            SpecField("path", .text, "The path template, e.g. /users/{path.id}."),
            SpecField("method", .text, "A gRPC method, package.Service/Method, instead of a path."),
            SpecField("body", .anything, "A gRPC call's request message; its strings are templates."),
            SpecField("timeout", .duration, "How long this call may take."),
            SpecField("required", .boolean, "Whether the request fails when this call fails."),
            SpecField("fallback", .anything, "The result used when this call fails."),
            SpecField("headers", .map(.text), "Headers sent with the call; values are templates."),
            SpecField("hedge", .section(hedge), "Send a second request when the first is slow."),
            SpecField("cache", .section(callCache), "Cache this call's result."),
            SpecField("schema", .either([.map(.anything), .boolean]), "The JSON Schema of this call's section, for the BFF's OpenAPI document."),
        ]
    )

    static let responseField = SpecSection(
        name: "response_field",
        summary: "One field of an aggregation's response.",
        fields: [
            SpecField("from", .text, "The call, or a dotted path into its result, e.g. user.tier.", required: true),
            SpecField("fields", .list(.text), "Keep only these fields of the value (of each element of a list)."),
            SpecField("limit", .positiveInteger, "Keep at most this many elements of a list."),
        ]
    )

    static let proxy = SpecSection(
        name: "proxy",
        summary: "A route forwarded to one service.",
        fields: [
            SpecField("service", .text, "The service forwarded to.", required: true),
            SpecField("path", .text, "The path template, e.g. /users/{rest}.", required: true),
            SpecField("timeout", .duration, "How long the service may take."),
            SpecField("websocket", .either([.boolean, .section(websocket)]), "Forward WebSocket upgrades: true, or their settings."),
            SpecField("forward_credentials", .boolean, "Pass the Authorization or API key header the route checked on to the service (default false)."),
        ]
    )

    static let websocket = SpecSection(
        name: "websocket",
        summary: "WebSocket forwarding through a proxy route.",
        fields: [
            SpecField("idle_timeout", .duration, "Close a connection with no message for this long."),
            SpecField("max_message", .byteSize, "The largest message forwarded."),
        ]
    )

    static let hedge = SpecSection(
        name: "hedge",
        summary: "Hedged requests for a slow call.",
        fields: [
            SpecField("after", .either([.word(["p95"]), .duration]), "When to send the hedge: a delay, or p95 of the call's recent latency.", required: true),
            SpecField("max", .positiveInteger, "Hedges sent at most."),
        ]
    )

    static let require = SpecSection(
        name: "require",
        summary: "What the caller must hold on a route.",
        fields: [
            SpecField("roles", .either([.text, .list(.text)]), "Roles, of which the caller needs one."),
            SpecField("scopes", .either([.text, .list(.text)]), "Scopes, all of which the caller needs."),
            SpecField("tls_subjects", .either([.text, .list(.text)]), "Client certificate subjects, one of which the caller's must be."),
        ]
    )

    // MARK: Caching

    static let callCache = SpecSection(
        name: "call_cache",
        summary: "Caching of a call's result.",
        fields: cacheFields(["ttl", "stale_if_error", "stale_while_revalidate", "shared"])
    )

    static let endpointCache = SpecSection(
        name: "endpoint_cache",
        summary: "Caching of an endpoint's composed response (no upstream to fall back to or revalidate).",
        fields: cacheFields(["ttl", "shared"])
    )

    private static func cacheFields(_ keys: [String]) -> [SpecField] {
        let all = [
            SpecField("ttl", .duration, "How long a cached copy is fresh; above zero."),
            SpecField("stale_if_error", .duration, "How long past its ttl a copy is served when the service fails."),
            SpecField("stale_while_revalidate", .duration, "How long past its ttl a copy is served while it is refreshed."),
            SpecField("shared", .boolean, "Whether one copy serves every caller, not one copy per caller."),
        ]
        return keys.compactMap { key in all.first { $0.key == key } }
    }

    static let cacheStore = SpecSection(
        name: "cache_store",
        summary: "Where cached responses are kept.",
        fields: [
            SpecField("max_bytes", .byteSize, "The in-memory cache's size."),
            SpecField("redis", .pattern("^redis://"), "A Redis shared by every replica, redis://host:port/db."),
            SpecField("timeout", .duration, "How long a Redis command may take."),
        ]
    )

    // MARK: Auth

    static let auth = SpecSection(
        name: "auth",
        summary: "How callers prove who they are.",
        fields: [
            SpecField("jwt", .section(jwt), "Accept JSON Web Tokens."),
            SpecField("api_keys", .section(apiKeys), "Accept API keys."),
            SpecField("forward_claims", .map(.text), "Token claims sent to services, claim: header."),
        ]
    )

    static let jwt = SpecSection(
        name: "jwt",
        summary: "JSON Web Token verification.",
        fields: [
            SpecField("issuer", .text, "The iss tokens must carry."),
            SpecField("audience", .text, "The aud tokens must carry."),
            SpecField("leeway", .duration, "Clock skew allowed on exp and nbf."),
            SpecField("keys", .list(.section(jwtKey)), "Keys held locally, each with its algorithm."),
            SpecField("jwks", .section(jwks), "A JWKS URL keys are fetched from."),
            SpecField("roles_claim", .text, "The claim holding the caller's roles."),
            SpecField("scopes_claim", .text, "The claim holding the caller's scopes."),
        ]
    )

    static let jwtKey = SpecSection(
        name: "jwt_key",
        summary: "A JWT verification key; exactly one of secret_env, secret_file or pem_file.",
        fields: [
            SpecField("kid", .text, "The key id tokens name in their header."),
            SpecField("alg", .words(JWTKeyAlgorithm.self), "The algorithm, pinned here; tokens never choose it.", required: true),
            SpecField("secret_env", .text, "An environment variable holding an HMAC secret."),
            SpecField("secret_file", .text, "A file holding an HMAC secret, relative to this spec."),
            SpecField("pem_file", .text, "A PEM public key file, relative to this spec."),
        ]
    )

    static let jwks = SpecSection(
        name: "jwks",
        summary: "A JSON Web Key Set fetched from the identity provider.",
        fields: [
            SpecField("url", .text, "The key set's http(s) URL, without a query.", required: true),
            SpecField("refresh", .duration, "How often the key set is fetched when its answer sets no Cache-Control max-age."),
            SpecField("min_interval", .duration, "The least time between two fetches, however many unknown kids arrive."),
            SpecField("timeout", .duration, "How long a fetch may take."),
            SpecField("max_bytes", .byteSize, "The largest key set read."),
            SpecField("ca_file", .text, "PEM file of CAs the provider's certificate must chain to, relative to this spec."),
        ]
    )

    static let apiKeys = SpecSection(
        name: "api_keys",
        summary: "API keys, stored hashed (bff keys add); at least one of file or env.",
        fields: [
            SpecField("file", .text, "The key file, relative to this spec; reloaded when it changes."),
            SpecField("env", .text, "An environment variable holding key lines."),
            SpecField("header", .text, "The header callers send their key in."),
            SpecField("reload", .duration, "How often the key file is checked for changes."),
        ]
    )

    // MARK: Plans and limits

    static let plan = SpecSection(
        name: "plan",
        summary: "What an API key's plan allows.",
        fields: [
            SpecField("rate", rate, "Requests per s, m or h, e.g. 50/s."),
            SpecField("burst", .positiveInteger, "Requests allowed at once above the rate."),
            SpecField("quota", .either([quota, .list(quota)]), "Requests per UTC day or month, e.g. 1000000/month, or a list."),
        ]
    )

    static let rateLimits = SpecSection(
        name: "rate_limits",
        summary: "BFF-wide rate limits.",
        fields: [
            SpecField("store", .either([.word(["memory"]), .pattern("^redis://")]), "Where counters live: memory, or a redis:// URL shared by every replica."),
            SpecField("max_keys", .positiveInteger, "Keys the memory store holds at most."),
            SpecField("on_store_error", .words(RateLimitsSpec.OnStoreError.self), "Whether requests pass when the store fails."),
            SpecField("timeout", .duration, "How long a store command may take."),
            SpecField("limits", .either([.section(rateLimit), .list(.section(rateLimit))]), "Limits applied to every route."),
        ]
    )

    static let rateLimit = SpecSection(
        name: "rate_limit",
        summary: "One rate limit.",
        fields: [
            SpecField("key", .pattern(#"^(ip|user|api_key|header\.[!#$%&'*+\-.0-9A-Z^_`a-z|~]+)$"#), "What is counted: ip, user, api_key or header.<name>."),
            SpecField("rate", rate, "Requests per s, m or h, e.g. 10/s.", required: true),
            SpecField("burst", .positiveInteger, "Requests allowed at once above the rate."),
        ]
    )

    private static let rate = SpecValueKind.pattern(#"^\+?0*[1-9][0-9]*/(s|m|min|h)$"#)
    private static let quota = SpecValueKind.pattern(#"^\+?[0-9_]*[1-9][0-9_]*/(day|month)$"#)

    static let cors = SpecSection(
        name: "cors",
        summary: "Cross-origin requests from browsers.",
        fields: [
            SpecField("origins", .list(.text), "Origins allowed, scheme://host[:port], with * for any or *. for subdomains."),
            SpecField("credentials", .boolean, "Whether browsers may send cookies or Authorization."),
            SpecField("max_age", .duration, "How long browsers may cache a preflight answer."),
            SpecField("allow_headers", .list(.text), "Request headers browsers may send."),
            SpecField("expose_headers", .list(.text), "Response headers scripts may read."),
        ]
    )

    static let limits = SpecSection(
        name: "limits",
        summary: "Request size, time and connection limits.",
        fields: [
            SpecField("request_line", .byteSize, "The longest request line."),
            SpecField("headers", .byteSize, "The largest header block."),
            SpecField("header_fields", .positiveInteger, "Header fields a request may have."),
            SpecField("body", .byteSize, "The largest request body of an aggregation route."),
            SpecField("proxy_body", .byteSize, "The largest request body of a proxy route."),
            SpecField("header_timeout", .duration, "How long a client may take to send its headers."),
            SpecField("idle_timeout", .duration, "Close a connection idle for this long."),
            SpecField("max_connections", .positiveInteger, "Client connections open at once."),
        ]
    )

    static let hygiene = SpecSection(
        name: "hygiene",
        summary: "Request headers removed at ingress, before routing, besides those the gateway always removes.",
        fields: [
            SpecField("drop_headers", .list(.pattern(#"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$"#)), "Header names removed from every client request (case-insensitive)."),
        ]
    )

    static let securityHeaders = SpecSection(
        name: "security_headers",
        summary: "Security headers added to responses.",
        fields: [
            SpecField("hsts_max_age", .either([.word(["off"]), .positiveInteger]), "Strict-Transport-Security max-age in seconds, or off."),
            SpecField("html_csp", .text, "The Content-Security-Policy sent with HTML responses."),
        ]
    )
}
