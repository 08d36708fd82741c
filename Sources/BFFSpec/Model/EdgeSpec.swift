import Foundation

/// The edge jobs of one BFF, declared in its spec (with family-wide defaults from includes):
/// who may call it, how often, from which origins, and how large a request may be.
public struct EdgeSpec: Sendable {
    /// How callers prove who they are; nil when the BFF declares no auth (every route is public).
    public var auth: AuthSpec?
    /// Partner plans by name: rate and quotas for each API key's client.
    public var plans: [String: PlanSpec]
    /// Where limiter state lives and the BFF-wide limits.
    public var rateLimits: RateLimitsSpec
    /// Proxies whose `X-Forwarded-For` / `Forwarded` hops are believed.
    public var trustedProxies: [CIDR]
    /// Cross-origin browser access; nil answers no preflight and sends no CORS headers.
    public var cors: CORSSpec?
    /// Request size and timing limits at the edge.
    public var limits: LimitsSpec
    /// Request headers removed at ingress besides those always removed.
    public var hygiene: HygieneSpec
    /// Security headers added to every gateway response.
    public var headers: SecurityHeadersSpec

    public init(
        auth: AuthSpec? = nil,
        plans: [String: PlanSpec] = [:],
        rateLimits: RateLimitsSpec = RateLimitsSpec(),
        trustedProxies: [CIDR] = [],
        cors: CORSSpec? = nil,
        limits: LimitsSpec = LimitsSpec(),
        hygiene: HygieneSpec = HygieneSpec(),
        headers: SecurityHeadersSpec = SecurityHeadersSpec()
    ) {
        self.auth = auth
        self.plans = plans
        self.rateLimits = rateLimits
        self.trustedProxies = trustedProxies
        self.cors = cors
        self.limits = limits
        self.hygiene = hygiene
        self.headers = headers
    }
}

// MARK: Authentication

/// The BFF's ways in: JWTs, API keys, or both; each endpoint picks among them with `auth:`.
public struct AuthSpec: Sendable {
    public var jwt: JWTSpec?
    public var apiKeys: APIKeySpec?
    /// Claims copied into upstream request headers (`sub` -> `X-User-Id`); any such header the
    /// client sent is removed first.
    public var forwardClaims: [ClaimHeader]
    public var location: SourceLocation

    public init(jwt: JWTSpec? = nil, apiKeys: APIKeySpec? = nil, forwardClaims: [ClaimHeader] = [], location: SourceLocation) {
        self.jwt = jwt
        self.apiKeys = apiKeys
        self.forwardClaims = forwardClaims
        self.location = location
    }
}

/// One `forward_claims` entry.
public struct ClaimHeader: Sendable, Hashable {
    public var claim: String
    public var header: String

    public init(claim: String, header: String) {
        self.claim = claim
        self.header = header
    }
}

/// How JWTs are verified. Every key has its algorithm pinned; the token's `alg` only has to agree.
public struct JWTSpec: Sendable {
    /// Required `iss`, when set.
    public var issuer: String?
    /// Required `aud` (a string equal to it, or an array containing it), when set.
    public var audience: String?
    /// Clock skew allowed on `exp`, `nbf` and `iat`.
    public var leeway: Duration
    /// Keys given in the spec (HMAC secrets from env or file, public keys from PEM files).
    public var keys: [JWTKeySpec]
    /// A JWKS endpoint whose keys are used alongside `keys`.
    public var jwks: JWKSSpec?
    /// Claim holding the caller's roles (a string or an array of strings).
    public var rolesClaim: String
    /// Claim holding the caller's scopes (space-separated string, or an array).
    public var scopesClaim: String
    public var location: SourceLocation

    public static let defaultLeeway: Duration = .seconds(30)

    public init(
        issuer: String? = nil,
        audience: String? = nil,
        leeway: Duration = JWTSpec.defaultLeeway,
        keys: [JWTKeySpec] = [],
        jwks: JWKSSpec? = nil,
        rolesClaim: String = "roles",
        scopesClaim: String = "scope",
        location: SourceLocation
    ) {
        self.issuer = issuer
        self.audience = audience
        self.leeway = leeway
        self.keys = keys
        self.jwks = jwks
        self.rolesClaim = rolesClaim
        self.scopesClaim = scopesClaim
        self.location = location
    }
}

/// The signature algorithms a key may be pinned to. `none` is not one of them.
public enum JWTKeyAlgorithm: String, Sendable, CaseIterable {
    case hs256 = "HS256", hs384 = "HS384", hs512 = "HS512"
    case rs256 = "RS256", rs384 = "RS384", rs512 = "RS512"
    case ps256 = "PS256", ps384 = "PS384", ps512 = "PS512"
    case es256 = "ES256", es384 = "ES384", es512 = "ES512"
    case eddsa = "EdDSA"

    /// HMAC algorithms take a shared secret; the others a public key.
    public var isHMAC: Bool { self == .hs256 || self == .hs384 || self == .hs512 }
}

/// One verification key from the spec.
public struct JWTKeySpec: Sendable {
    public enum Material: Sendable, Hashable {
        /// An HMAC secret read from this environment variable at start-up.
        case secretEnv(String)
        /// An HMAC secret read from this file (trailing newline dropped).
        case secretFile(String)
        /// A PEM public key (or certificate) file.
        case pemFile(String)
    }

    /// The `kid` a token must name to use this key; nil matches tokens without a `kid`.
    public var kid: String?
    public var algorithm: JWTKeyAlgorithm
    public var material: Material
    public var location: SourceLocation

    public init(kid: String?, algorithm: JWTKeyAlgorithm, material: Material, location: SourceLocation) {
        self.kid = kid
        self.algorithm = algorithm
        self.material = material
        self.location = location
    }
}

/// A JWKS URL: fetched with a size cap and timeout, cached per Cache-Control, refreshed in the
/// background, the last good key set kept while the identity provider is down.
public struct JWKSSpec: Sendable {
    public var url: UpstreamURL
    /// Refresh interval when the response sets no Cache-Control max-age.
    public var refresh: Duration
    /// Least time between two fetches, however many unknown `kid`s arrive.
    public var minInterval: Duration
    public var timeout: Duration
    public var maxBytes: Int
    /// PEM file of CAs trusted for an https JWKS URL, instead of the system's.
    public var caFile: String?
    public var location: SourceLocation

    public static let defaultRefresh: Duration = .seconds(300)
    public static let defaultMinInterval: Duration = .seconds(30)
    public static let defaultTimeout: Duration = .seconds(2)
    public static let defaultMaxBytes = 256 * 1024

    public init(
        url: UpstreamURL,
        refresh: Duration = JWKSSpec.defaultRefresh,
        minInterval: Duration = JWKSSpec.defaultMinInterval,
        timeout: Duration = JWKSSpec.defaultTimeout,
        maxBytes: Int = JWKSSpec.defaultMaxBytes,
        caFile: String? = nil,
        location: SourceLocation
    ) {
        self.url = url
        self.refresh = refresh
        self.minInterval = minInterval
        self.timeout = timeout
        self.maxBytes = maxBytes
        self.caFile = caFile
        self.location = location
    }
}

/// API keys: only their SHA-256 hashes are stored, in a file (re-read when it changes) and/or
/// an environment variable, each naming a client id and a plan.
public struct APIKeySpec: Sendable {
    /// Path of the keys file (`<sha256 hex> <client> <plan>` per line, `#` comments).
    public var file: String?
    /// Environment variable holding the same lines, separated by newlines or `;`.
    public var env: String?
    /// Request header carrying the key.
    public var header: String
    /// How often the keys file is checked for changes (revocation without restart).
    public var reloadInterval: Duration
    public var location: SourceLocation

    public static let defaultHeader = "X-Api-Key"
    public static let defaultReloadInterval: Duration = .seconds(2)

    public init(
        file: String? = nil,
        env: String? = nil,
        header: String = APIKeySpec.defaultHeader,
        reloadInterval: Duration = APIKeySpec.defaultReloadInterval,
        location: SourceLocation
    ) {
        self.file = file
        self.env = env
        self.header = header
        self.reloadInterval = reloadInterval
        self.location = location
    }
}

/// How an endpoint admits callers: `auth: none | jwt | api_key | [jwt, api_key]` plus `require:`.
public struct EndpointAuthSpec: Sendable {
    public enum Method: String, Sendable, Hashable, CaseIterable {
        case none
        case jwt
        case apiKey = "api_key"
    }

    /// Accepted methods, any of which suffices; `[.none]` makes the route public.
    public var methods: [Method]
    /// Roles of which the caller must hold at least one.
    public var roles: [String]
    /// Scopes the caller must hold, all of them.
    public var scopes: [String]
    /// Client certificate subjects (RFC 4514, `CN=partner-a,O=Acme`) of which the connection's
    /// verified one must be; empty asks for none. Needs `tls.client_ca_file`.
    public var tlsSubjects: [String] = []

    public init(methods: [Method], roles: [String] = [], scopes: [String] = []) {
        self.methods = methods
        self.roles = roles
        self.scopes = scopes
    }

    public var isPublic: Bool { methods.contains(.none) }
}

// MARK: Rate limits and quotas

/// `50/s`: so many requests per period.
public struct RateSpec: Sendable, Hashable, CustomStringConvertible {
    public var count: Int
    public var period: Duration

    public init(count: Int, period: Duration) {
        self.count = count
        self.period = period
    }

    public var description: String {
        let seconds = period.components.seconds
        let unit = seconds == 1 ? "s" : seconds == 60 ? "m" : seconds == 3600 ? "h" : "\(seconds)s"
        return "\(count)/\(unit)"
    }
}

/// A calendar quota: so many requests per UTC day or month.
public struct QuotaSpec: Sendable, Hashable {
    public enum Window: String, Sendable, Hashable {
        case day
        case month
    }

    public var count: Int
    public var window: Window

    public init(count: Int, window: Window) {
        self.count = count
        self.window = window
    }
}

/// What a limit counts requests by.
public enum RateLimitKey: Sendable, Hashable, CustomStringConvertible {
    /// The client address (the socket peer, or the right-most untrusted forwarded hop).
    case ip
    /// The JWT subject; requests without one are counted by ip.
    case user
    /// The API key's client id; requests without one are counted by ip.
    case apiKey
    /// A request header's value; requests without it are counted by ip.
    case header(String)

    public var description: String {
        switch self {
        case .ip: "ip"
        case .user: "user"
        case .apiKey: "api_key"
        case .header(let name): "header.\(name)"
        }
    }
}

/// One rate limit: GCRA with a burst.
public struct RateLimitSpec: Sendable {
    public var key: RateLimitKey
    public var rate: RateSpec
    /// Requests allowed at once on top of the steady rate; defaults to the rate's count.
    public var burst: Int
    public var location: SourceLocation

    public init(key: RateLimitKey, rate: RateSpec, burst: Int? = nil, location: SourceLocation) {
        self.key = key
        self.rate = rate
        self.burst = burst ?? rate.count
        self.location = location
    }
}

/// A partner plan: the rate and quotas every API key on it gets.
public struct PlanSpec: Sendable {
    public var name: String
    public var rate: RateSpec?
    public var burst: Int?
    public var quotas: [QuotaSpec]
    public var location: SourceLocation

    public init(name: String, rate: RateSpec? = nil, burst: Int? = nil, quotas: [QuotaSpec] = [], location: SourceLocation) {
        self.name = name
        self.rate = rate
        self.burst = burst
        self.quotas = quotas
        self.location = location
    }
}

/// Where limiter state lives and what to do when that store fails.
public struct RateLimitsSpec: Sendable {
    public enum Store: Sendable, Hashable {
        /// In this process, at most `maxKeys` keys (least recently used evicted first).
        case memory(maxKeys: Int)
        /// A Redis shared by every replica.
        case redis(RedisURL)
    }

    public enum OnStoreError: String, Sendable, CaseIterable {
        case allow
        case deny
    }

    public var store: Store
    public var onStoreError: OnStoreError
    /// How long a check may wait for a remote store before `onStoreError` decides.
    public var timeout: Duration
    /// Limits applied to every route of the BFF (the health routes excepted).
    public var limits: [RateLimitSpec]
    /// Where `rate_limits` is written; nil when the spec has none.
    public var location: SourceLocation?

    public static let defaultMaxKeys = 100_000
    public static let defaultTimeout: Duration = .milliseconds(200)

    public init(
        store: Store = .memory(maxKeys: RateLimitsSpec.defaultMaxKeys),
        onStoreError: OnStoreError = .allow,
        timeout: Duration = RateLimitsSpec.defaultTimeout,
        limits: [RateLimitSpec] = []
    ) {
        self.store = store
        self.onStoreError = onStoreError
        self.timeout = timeout
        self.limits = limits
    }
}

/// An IPv4 or IPv6 network, `10.0.0.0/8` or `fd00::/8`; a bare address is a /32 or /128.
public struct CIDR: Sendable, Hashable, CustomStringConvertible {
    /// The network address, 4 or 16 bytes.
    public var address: [UInt8]
    public var prefixLength: Int

    public init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let address = CIDR.parseAddress(String(parts[0])) else { return nil }
        let maxPrefix = address.count * 8
        var prefix = maxPrefix
        if parts.count == 2 {
            guard let p = Int(parts[1]), (0...maxPrefix).contains(p) else { return nil }
            prefix = p
        }
        self.address = CIDR.mask(address, prefix)
        self.prefixLength = prefix
    }

    /// Whether `bytes` (4 or 16 bytes; an IPv4-mapped IPv6 address counts as IPv4) is inside.
    public func contains(_ bytes: [UInt8]) -> Bool {
        var bytes = bytes
        if bytes.count == 16 && address.count == 4 && bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xff && bytes[11] == 0xff {
            bytes = Array(bytes[12...])
        }
        guard bytes.count == address.count else { return false }
        return CIDR.mask(bytes, prefixLength) == address
    }

    /// Whether the textual address is inside; false for anything that is not an address.
    public func contains(_ text: String) -> Bool {
        CIDR.parseAddress(text).map(contains) ?? false
    }

    public var description: String {
        let text: String
        if address.count == 4 {
            text = address.map(String.init).joined(separator: ".")
        } else {
            text = stride(from: 0, to: 16, by: 2).map { String(UInt16(address[$0]) << 8 | UInt16(address[$0 + 1]), radix: 16) }.joined(separator: ":")
        }
        return "\(text)/\(prefixLength)"
    }

    /// Parses dotted IPv4 or IPv6 (with `::` and an optional embedded IPv4 tail) to bytes.
    public static func parseAddress(_ text: String) -> [UInt8]? {
        if !text.contains(":") { return parseIPv4(Substring(text)) }
        var text = Substring(text)
        if text.hasPrefix("[") && text.hasSuffix("]") { text = text.dropFirst().dropLast() }
        if let zone = text.firstIndex(of: "%") { text = text[..<zone] }
        var halves: [String] = [String(text)]
        if let gap = text.range(of: "::") {
            halves = [String(text[..<gap.lowerBound]), String(text[gap.upperBound...])]
            guard !halves[1].contains("::") else { return nil }
        }
        func groups(_ part: String) -> [UInt8]? {
            if part.isEmpty { return [] }
            var bytes: [UInt8] = []
            let pieces = part.split(separator: ":", omittingEmptySubsequences: false)
            for (index, piece) in pieces.enumerated() {
                if index == pieces.count - 1 && piece.contains(".") {
                    guard let v4 = parseIPv4(piece) else { return nil }
                    bytes += v4
                } else {
                    guard (1...4).contains(piece.count), let value = UInt16(piece, radix: 16) else { return nil }
                    bytes += [UInt8(value >> 8), UInt8(value & 0xff)]
                }
            }
            return bytes
        }
        guard let head = groups(halves[0]) else { return nil }
        if halves.count == 1 { return head.count == 16 ? head : nil }
        guard let tail = groups(halves[1]), head.count + tail.count <= 14 else { return nil }
        return head + [UInt8](repeating: 0, count: 16 - head.count - tail.count) + tail
    }

    private static func parseIPv4(_ text: Substring) -> [UInt8]? {
        let octets = text.split(separator: ".", omittingEmptySubsequences: false)
        guard octets.count == 4 else { return nil }
        var bytes: [UInt8] = []
        for octet in octets {
            guard (1...3).contains(octet.count), octet.allSatisfy(\.isASCII), let value = UInt8(octet) else { return nil }
            bytes.append(value)
        }
        return bytes
    }

    private static func mask(_ bytes: [UInt8], _ prefix: Int) -> [UInt8] {
        bytes.enumerated().map { index, byte in
            let bits = max(0, min(8, prefix - index * 8))
            return bits == 8 ? byte : bits == 0 ? 0 : byte & ~(UInt8(0xff) >> bits)
        }
    }
}

// MARK: CORS, limits, headers

/// Cross-origin access for browsers. Preflights are answered by the gateway and never forwarded.
public struct CORSSpec: Sendable {
    /// Exact origins (`https://shop.example.com`) or one-label wildcards (`https://*.example.com`).
    public var origins: [String]
    public var credentials: Bool
    public var maxAge: Duration
    /// Request headers a preflight may ask for.
    public var allowHeaders: [String]
    /// Response headers scripts may read.
    public var exposeHeaders: [String]
    public var location: SourceLocation

    public static let defaultMaxAge: Duration = .seconds(600)
    public static let defaultAllowHeaders = ["Authorization", "Content-Type", "X-Request-ID"]
    public static let defaultExposeHeaders = ["X-Request-ID", "X-BFF-Degraded", "Server-Timing", "Retry-After", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"]

    public init(
        origins: [String],
        credentials: Bool = false,
        maxAge: Duration = CORSSpec.defaultMaxAge,
        allowHeaders: [String] = CORSSpec.defaultAllowHeaders,
        exposeHeaders: [String] = CORSSpec.defaultExposeHeaders,
        location: SourceLocation
    ) {
        self.origins = origins
        self.credentials = credentials
        self.maxAge = maxAge
        self.allowHeaders = allowHeaders
        self.exposeHeaders = exposeHeaders
        self.location = location
    }
}

/// Request size and timing limits, each with a production default.
public struct LimitsSpec: Sendable {
    /// Longest request line; longer gets 414.
    public var requestLineBytes: Int = 8 * 1024
    /// Largest header block; larger gets 431.
    public var headerBytes: Int = 32 * 1024
    /// Most header fields; more gets 431.
    public var headerFields: Int = 100
    /// Largest request body an aggregated route accepts; larger gets 413.
    public var bodyBytes: Int = 1024 * 1024
    /// Largest request body a proxied route streams upstream; larger gets 413.
    public var proxyBodyBytes: Int = 100 * 1024 * 1024
    /// Time from a request's first byte until its whole head has arrived (slowloris guard).
    public var headerTimeout: Duration = .seconds(10)
    /// Idle keep-alive connections are closed after this long.
    public var idleTimeout: Duration = .seconds(60)
    /// Connections served at once; more are answered 503 and closed.
    public var maxConnections: Int = 10_000

    public init() {}
}

/// `hygiene: { drop_headers: [X-Debug-User] }`: request headers a client may not send, removed
/// before routing on top of the gateway's own list (client-IP and method-override headers).
public struct HygieneSpec: Sendable {
    /// Lowercased header names.
    public var dropHeaders: [String] = []

    public init(dropHeaders: [String] = []) {
        self.dropHeaders = dropHeaders
    }
}

/// Security headers on gateway responses.
public struct SecurityHeadersSpec: Sendable {
    /// `Strict-Transport-Security` max-age, sent when the request came over TLS (directly or per
    /// a trusted proxy's `X-Forwarded-Proto: https`); nil sends none.
    public var hstsMaxAge: Duration? = .seconds(31_536_000)
    /// `Content-Security-Policy` for responses whose content type is HTML.
    public var htmlCSP: String = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"

    public init() {}
}
