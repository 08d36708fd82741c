import Foundation
import Yams

/// The edge sections a spec file may declare (also in an include, as family-wide defaults).
/// A section set in the client's own file replaces the included one as a whole.
struct EdgeSections {
    static let keys = SpecGrammar.edgeFields.map(\.key)

    var auth: AuthSpec?
    var plans: [String: PlanSpec]?
    var rateLimits: RateLimitsSpec?
    var trustedProxies: [CIDR]?
    var cors: CORSSpec?
    var limits: LimitsSpec?
    var hygiene: HygieneSpec?
    var headers: SecurityHeadersSpec?

    /// Fills sections this one lacks from `other` (an include read later, so of lower precedence).
    mutating func fillMissing(from other: EdgeSections) {
        auth = auth ?? other.auth
        plans = plans ?? other.plans
        rateLimits = rateLimits ?? other.rateLimits
        trustedProxies = trustedProxies ?? other.trustedProxies
        cors = cors ?? other.cors
        limits = limits ?? other.limits
        hygiene = hygiene ?? other.hygiene
        headers = headers ?? other.headers
    }

    var spec: EdgeSpec {
        EdgeSpec(
            auth: auth,
            plans: plans ?? [:],
            rateLimits: rateLimits ?? RateLimitsSpec(),
            trustedProxies: trustedProxies ?? [],
            cors: cors,
            limits: limits ?? LimitsSpec(),
            hygiene: hygiene ?? HygieneSpec(),
            headers: headers ?? SecurityHeadersSpec()
        )
    }
}

extension SpecLoader {
    static let authKeys = SpecGrammar.auth.keys
    static let jwtKeys = SpecGrammar.jwt.keys
    static let jwtKeyKeys = SpecGrammar.jwtKey.keys
    static let jwksKeys = SpecGrammar.jwks.keys
    static let apiKeyKeys = SpecGrammar.apiKeys.keys
    static let planKeys = SpecGrammar.plan.keys
    static let rateLimitsKeys = SpecGrammar.rateLimits.keys
    static let rateLimitKeys = SpecGrammar.rateLimit.keys
    static let corsKeys = SpecGrammar.cors.keys
    static let limitsKeys = SpecGrammar.limits.keys
    static let securityHeadersKeys = SpecGrammar.securityHeaders.keys
    static let hygieneKeys = SpecGrammar.hygiene.keys
    static let requireKeys = SpecGrammar.require.keys

    /// Reads one edge section into `sections`; `key` is one of ``EdgeSections/keys``.
    static func readEdgeSection(_ key: String, _ node: Node, into sections: inout EdgeSections, reader: YAMLReader) {
        switch key {
        case "auth": sections.auth = readAuth(node, reader: reader)
        case "plans": sections.plans = readPlans(node, reader: reader)
        case "rate_limits": sections.rateLimits = readRateLimits(node, reader: reader)
        case "trusted_proxies":
            sections.trustedProxies = (reader.sequence(node, what: "trusted_proxies") ?? []).compactMap { item in
                guard let text = reader.string(item, what: "a trusted proxy") else { return nil }
                guard let cidr = CIDR(text) else {
                    reader.report(item, "trusted proxy '\(text)' is not an address or CIDR", hint: "write e.g. 10.0.0.0/8 or fd00::/8")
                    return nil
                }
                return cidr
            }
        case "cors": sections.cors = readCORS(node, reader: reader)
        case "limits": sections.limits = readLimits(node, reader: reader)
        case "hygiene": sections.hygiene = readHygiene(node, reader: reader)
        case "security_headers": sections.headers = readSecurityHeaders(node, reader: reader)
        default: break
        }
    }

    // MARK: Auth

    private static func readAuth(_ node: Node, reader: YAMLReader) -> AuthSpec? {
        guard let fields = reader.mapping(node, what: "auth", allowed: authKeys) else { return nil }
        var auth = AuthSpec(location: reader.location(of: node))
        for (key, _, value) in fields {
            switch key {
            case "jwt": auth.jwt = readJWT(value, reader: reader)
            case "api_keys": auth.apiKeys = readAPIKeys(value, reader: reader)
            case "forward_claims":
                for (claim, _, header) in reader.mapping(value, what: "forward_claims", allowed: []) ?? [] {
                    guard let name = reader.string(header, what: "header for claim '\(claim)'") else { continue }
                    guard isHeaderName(name) else {
                        reader.report(header, "'\(name)' is not a valid header name", hint: "use letters, digits and '-', e.g. X-User-Id")
                        continue
                    }
                    auth.forwardClaims.append(ClaimHeader(claim: claim, header: name))
                }
            default: break
            }
        }
        if auth.jwt == nil && auth.apiKeys == nil {
            reader.report(node, "auth declares neither 'jwt' nor 'api_keys'", hint: "add one, or remove 'auth' to make every route public")
        }
        return auth
    }

    private static func readJWT(_ node: Node, reader: YAMLReader) -> JWTSpec? {
        guard let fields = reader.mapping(node, what: "auth.jwt", allowed: jwtKeys) else { return nil }
        var jwt = JWTSpec(location: reader.location(of: node))
        for (key, _, value) in fields {
            switch key {
            case "issuer": jwt.issuer = reader.string(value, what: "issuer")
            case "audience": jwt.audience = reader.string(value, what: "audience")
            case "leeway": jwt.leeway = reader.duration(value, what: "leeway") ?? jwt.leeway
            case "roles_claim": jwt.rolesClaim = reader.string(value, what: "roles_claim") ?? jwt.rolesClaim
            case "scopes_claim": jwt.scopesClaim = reader.string(value, what: "scopes_claim") ?? jwt.scopesClaim
            case "keys": jwt.keys = (reader.sequence(value, what: "keys") ?? []).compactMap { readJWTKey($0, reader: reader) }
            case "jwks": jwt.jwks = readJWKS(value, reader: reader)
            default: break
            }
        }
        if jwt.keys.isEmpty && jwt.jwks == nil && !fields.contains(where: { $0.key == "keys" || $0.key == "jwks" }) {
            reader.report(node, "auth.jwt has no keys and no jwks", hint: "add 'keys:' (secret_env, secret_file or pem_file, each with its alg) or 'jwks: { url: ... }'")
        }
        let kids = jwt.keys.map { $0.kid ?? "" }
        for (index, key) in jwt.keys.enumerated() where kids[..<index].contains(key.kid ?? "") {
            reader.report(key.location, "two JWT keys share kid '\(key.kid ?? "(none)")'", hint: "give every key its own kid")
        }
        return jwt
    }

    private static func readJWTKey(_ node: Node, reader: YAMLReader) -> JWTKeySpec? {
        guard let fields = reader.mapping(node, what: "a JWT key", allowed: jwtKeyKeys) else { return nil }
        var kid: String?, algorithm: JWTKeyAlgorithm?, materials: [JWTKeySpec.Material] = []
        for (key, _, value) in fields {
            switch key {
            case "kid": kid = reader.string(value, what: "kid")
            case "alg":
                guard let text = reader.string(value, what: "alg") else { continue }
                algorithm = JWTKeyAlgorithm(rawValue: text)
                if algorithm == nil {
                    let allowed = JWTKeyAlgorithm.allCases.map(\.rawValue)
                    reader.report(value, "unknown JWT algorithm '\(text)'", hint: YAMLReader.closest(to: text, in: allowed).map { "did you mean '\($0)'?" } ?? "one of \(allowed.joined(separator: ", "))")
                }
            case "secret_env": reader.string(value, what: "secret_env").map { materials.append(.secretEnv($0)) }
            case "secret_file": reader.string(value, what: "secret_file").map { materials.append(.secretFile(resolve($0, reader: reader))) }
            case "pem_file": reader.string(value, what: "pem_file").map { materials.append(.pemFile(resolve($0, reader: reader))) }
            default: break
            }
        }
        guard let algorithm else {
            if !fields.contains(where: { $0.key == "alg" }) {
                reader.report(node, "JWT key \(kid.map { "'\($0)' " } ?? "")has no alg", hint: "pin its algorithm, e.g. 'alg: RS256'; tokens never choose it")
            }
            return nil
        }
        guard materials.count == 1, let material = materials.first else {
            reader.report(node, "JWT key needs exactly one of secret_env, secret_file or pem_file", hint: "secrets never sit in the spec itself")
            return nil
        }
        let isSecret: Bool
        switch material {
        case .secretEnv, .secretFile: isSecret = true
        case .pemFile: isSecret = false
        }
        if isSecret && !algorithm.isHMAC {
            reader.report(node, "\(algorithm.rawValue) needs a public key, not a secret", hint: "use 'pem_file:', or an HS algorithm for a shared secret")
            return nil
        }
        if !isSecret && algorithm.isHMAC {
            reader.report(node, "\(algorithm.rawValue) is an HMAC algorithm and needs a secret, not a PEM key", hint: "use 'secret_env:' or 'secret_file:'")
            return nil
        }
        return JWTKeySpec(kid: kid, algorithm: algorithm, material: material, location: reader.location(of: node))
    }

    private static func readJWKS(_ node: Node, reader: YAMLReader) -> JWKSSpec? {
        guard let fields = reader.mapping(node, what: "jwks", allowed: jwksKeys) else { return nil }
        var jwks = JWKSSpec(url: UpstreamURL("http://invalid")!, location: reader.location(of: node))
        var url: UpstreamURL?
        for (key, _, value) in fields {
            switch key {
            case "url":
                let text = reader.string(value, what: "url") ?? ""
                url = UpstreamURL(text)
                if url == nil { reader.report(value, "jwks url '\(text)' is not an http(s) URL", hint: "write e.g. https://idp.example.com/.well-known/jwks.json") }
                if let path = text.split(separator: "?", maxSplits: 1).first, path != text[...] {
                    reader.report(value, "jwks url has a query string", hint: "give the plain URL of the key set")
                }
            case "refresh": jwks.refresh = reader.duration(value, what: "refresh") ?? jwks.refresh
            case "min_interval": jwks.minInterval = reader.duration(value, what: "min_interval") ?? jwks.minInterval
            case "timeout": jwks.timeout = reader.duration(value, what: "timeout") ?? jwks.timeout
            case "max_bytes": jwks.maxBytes = reader.byteSize(value, what: "max_bytes") ?? jwks.maxBytes
            case "ca_file": jwks.caFile = reader.string(value, what: "ca_file").map { resolve($0, reader: reader) }
            default: break
            }
        }
        guard let url else {
            if !fields.contains(where: { $0.key == "url" }) { reader.report(node, "jwks has no url", hint: "add 'url: https://idp.example.com/.well-known/jwks.json'") }
            return nil
        }
        jwks.url = url
        return jwks
    }

    private static func readAPIKeys(_ node: Node, reader: YAMLReader) -> APIKeySpec? {
        guard let fields = reader.mapping(node, what: "api_keys", allowed: apiKeyKeys) else { return nil }
        var spec = APIKeySpec(location: reader.location(of: node))
        for (key, _, value) in fields {
            switch key {
            case "file": spec.file = reader.string(value, what: "file").map { resolve($0, reader: reader) }
            case "env": spec.env = reader.string(value, what: "env")
            case "header":
                if let name = reader.string(value, what: "header") {
                    if isHeaderName(name) { spec.header = name } else { reader.report(value, "'\(name)' is not a valid header name", hint: "e.g. X-Api-Key") }
                }
            case "reload": spec.reloadInterval = reader.duration(value, what: "reload") ?? spec.reloadInterval
            default: break
            }
        }
        if spec.file == nil && spec.env == nil {
            reader.report(node, "api_keys names neither a 'file' nor an 'env' variable", hint: "add e.g. 'file: keys/partner.keys' (create keys with 'bff keys add')")
        }
        return spec
    }

    // MARK: Plans and limits

    private static func readPlans(_ node: Node, reader: YAMLReader) -> [String: PlanSpec] {
        var plans: [String: PlanSpec] = [:]
        for (name, keyNode, value) in reader.mapping(node, what: "plans", allowed: []) ?? [] {
            guard let fields = reader.mapping(value, what: "plan '\(name)'", allowed: planKeys) else { continue }
            var plan = PlanSpec(name: name, location: reader.location(of: keyNode))
            for (key, _, field) in fields {
                switch key {
                case "rate": plan.rate = rate(field, reader: reader)
                case "burst": plan.burst = reader.positiveInt(field, what: "burst")
                case "quota":
                    let items = field.sequence.map(Array.init) ?? [field]
                    plan.quotas = items.compactMap { quota($0, reader: reader) }
                default: break
                }
            }
            if plan.burst != nil && plan.rate == nil {
                reader.report(keyNode, "plan '\(name)' has a burst but no rate", hint: "add e.g. 'rate: 50/s'")
            }
            plans[name] = plan
        }
        return plans
    }

    private static func readRateLimits(_ node: Node, reader: YAMLReader) -> RateLimitsSpec? {
        guard let fields = reader.mapping(node, what: "rate_limits", allowed: rateLimitsKeys) else { return nil }
        var spec = RateLimitsSpec()
        spec.location = reader.location(of: node)
        var maxKeys = RateLimitsSpec.defaultMaxKeys
        var redis: RedisURL?
        for (key, _, value) in fields {
            switch key {
            case "store":
                guard let text = reader.string(value, what: "store") else { continue }
                if text != "memory" { redis = redisURL(text, at: value, what: "store", otherwise: "'memory'", reader: reader) }
            case "max_keys": maxKeys = reader.positiveInt(value, what: "max_keys") ?? maxKeys
            case "on_store_error":
                guard let text = reader.string(value, what: "on_store_error") else { continue }
                if let mode = RateLimitsSpec.OnStoreError(rawValue: text) { spec.onStoreError = mode } else { reader.report(value, "on_store_error must be allow or deny") }
            case "timeout": spec.timeout = reader.duration(value, what: "timeout") ?? spec.timeout
            case "limits": spec.limits = readRateLimitList(value, reader: reader)
            default: break
            }
        }
        spec.store = redis.map { .redis($0) } ?? .memory(maxKeys: maxKeys)
        return spec
    }

    /// One limit mapping, or a list of them (`rate_limit:` on an endpoint, `limits:` BFF-wide).
    static func readRateLimitList(_ node: Node, reader: YAMLReader) -> [RateLimitSpec] {
        let items = node.sequence.map(Array.init) ?? [node]
        return items.compactMap { item in
            guard let fields = reader.mapping(item, what: "a rate limit", allowed: rateLimitKeys) else { return nil }
            var key: RateLimitKey = .ip, rate: RateSpec?, burst: Int?
            for (name, _, value) in fields {
                switch name {
                case "key":
                    guard let text = reader.string(value, what: "key") else { continue }
                    switch text {
                    case "ip": key = .ip
                    case "user": key = .user
                    case "api_key": key = .apiKey
                    default:
                        if text.hasPrefix("header."), isHeaderName(String(text.dropFirst(7))) {
                            key = .header(String(text.dropFirst(7)).lowercased())
                        } else {
                            reader.report(value, "rate limit key '\(text)' is unknown", hint: "use ip, user, api_key or header.<name>")
                        }
                    }
                case "rate": rate = self.rate(value, reader: reader)
                case "burst": burst = reader.positiveInt(value, what: "burst")
                default: break
                }
            }
            guard let rate else {
                if !fields.contains(where: { $0.key == "rate" }) { reader.report(item, "rate limit has no rate", hint: "add e.g. 'rate: 10/s'") }
                return nil
            }
            return RateLimitSpec(key: key, rate: rate, burst: burst, location: reader.location(of: item))
        }
    }

    private static func rate(_ node: Node, reader: YAMLReader) -> RateSpec? {
        let text = node.scalar?.string ?? ""
        let parts = text.split(separator: "/", maxSplits: 1)
        let periods: [Substring: Int64] = ["s": 1, "m": 60, "min": 60, "h": 3600]
        guard parts.count == 2, let count = Int(parts[0]), count > 0, let seconds = periods[parts[1]] else {
            reader.report(node, "rate '\(text)' is not a rate", hint: "write requests per s, m or h, e.g. 50/s or 600/m")
            return nil
        }
        return RateSpec(count: count, period: .seconds(seconds))
    }

    private static func quota(_ node: Node, reader: YAMLReader) -> QuotaSpec? {
        let text = node.scalar?.string ?? ""
        let parts = text.split(separator: "/", maxSplits: 1)
        guard parts.count == 2, let count = Int(parts[0].filter { $0 != "_" }), count > 0, let window = QuotaSpec.Window(rawValue: String(parts[1])) else {
            reader.report(node, "quota '\(text)' is not a quota", hint: "write requests per day or month, e.g. 1000000/month")
            return nil
        }
        return QuotaSpec(count: count, window: window)
    }

    // MARK: CORS, limits, headers

    private static func readCORS(_ node: Node, reader: YAMLReader) -> CORSSpec? {
        guard let fields = reader.mapping(node, what: "cors", allowed: corsKeys) else { return nil }
        var cors = CORSSpec(origins: [], location: reader.location(of: node))
        var originNodes: [Node] = []
        for (key, _, value) in fields {
            switch key {
            case "origins":
                originNodes = reader.sequence(value, what: "origins") ?? []
                cors.origins = originNodes.compactMap { reader.string($0, what: "an origin") }
            case "credentials": cors.credentials = reader.bool(value, what: "credentials") ?? false
            case "max_age": cors.maxAge = reader.duration(value, what: "max_age") ?? cors.maxAge
            case "allow_headers": cors.allowHeaders = (reader.sequence(value, what: "allow_headers") ?? []).compactMap { reader.string($0, what: "a header") }
            case "expose_headers": cors.exposeHeaders = (reader.sequence(value, what: "expose_headers") ?? []).compactMap { reader.string($0, what: "a header") }
            default: break
            }
        }
        if cors.origins.isEmpty {
            reader.report(node, "cors lists no origins", hint: "add e.g. 'origins: [https://shop.example.com]'")
        }
        for (origin, originNode) in zip(cors.origins, originNodes) {
            if origin == "*" {
                if cors.credentials {
                    reader.report(originNode, "origin '*' cannot be combined with credentials", hint: "list the exact origins that may send credentials")
                }
            } else if !CORSOriginPattern.isValid(origin) {
                reader.report(originNode, "origin '\(origin)' is not scheme://host[:port]", hint: "write e.g. https://shop.example.com or https://*.example.com (no path, no trailing slash)")
            }
        }
        return cors
    }

    private static func readLimits(_ node: Node, reader: YAMLReader) -> LimitsSpec? {
        guard let fields = reader.mapping(node, what: "limits", allowed: limitsKeys) else { return nil }
        var limits = LimitsSpec()
        for (key, _, value) in fields {
            switch key {
            case "request_line": limits.requestLineBytes = reader.byteSize(value, what: "request_line") ?? limits.requestLineBytes
            case "headers": limits.headerBytes = reader.byteSize(value, what: "headers") ?? limits.headerBytes
            case "header_fields": limits.headerFields = reader.positiveInt(value, what: "header_fields") ?? limits.headerFields
            case "body": limits.bodyBytes = reader.byteSize(value, what: "body") ?? limits.bodyBytes
            case "proxy_body": limits.proxyBodyBytes = reader.byteSize(value, what: "proxy_body") ?? limits.proxyBodyBytes
            case "header_timeout": limits.headerTimeout = reader.duration(value, what: "header_timeout") ?? limits.headerTimeout
            case "idle_timeout": limits.idleTimeout = reader.duration(value, what: "idle_timeout") ?? limits.idleTimeout
            case "max_connections": limits.maxConnections = reader.positiveInt(value, what: "max_connections") ?? limits.maxConnections
            default: break
            }
        }
        return limits
    }

    /// Headers that decide how a request is framed or routed; removing them would break the request
    /// rather than protect a service.
    static let undroppableHeaders: Set<String> = ["host", "content-length", "transfer-encoding", "connection"]

    private static func readHygiene(_ node: Node, reader: YAMLReader) -> HygieneSpec? {
        guard let fields = reader.mapping(node, what: "hygiene", allowed: hygieneKeys) else { return nil }
        var hygiene = HygieneSpec()
        for (key, _, value) in fields where key == "drop_headers" {
            for item in reader.sequence(value, what: "drop_headers") ?? [] {
                guard let name = reader.string(item, what: "a header name") else { continue }
                if !isHeaderName(name) {
                    reader.report(item, "'\(name)' is not a header name", hint: "write the bare name, e.g. X-Debug-User")
                } else if undroppableHeaders.contains(name.lowercased()) {
                    reader.report(item, "\(name) cannot be dropped: it frames or routes the request", hint: "remove it from drop_headers")
                } else {
                    hygiene.dropHeaders.append(name.lowercased())
                }
            }
        }
        return hygiene
    }

    private static func readSecurityHeaders(_ node: Node, reader: YAMLReader) -> SecurityHeadersSpec? {
        guard let fields = reader.mapping(node, what: "security_headers", allowed: securityHeadersKeys) else { return nil }
        var headers = SecurityHeadersSpec()
        for (key, _, value) in fields {
            switch key {
            case "hsts_max_age":
                if value.scalar?.string == "off" {
                    headers.hstsMaxAge = nil
                } else if let seconds = reader.positiveInt(value, what: "hsts_max_age (seconds, or off)") {
                    headers.hstsMaxAge = .seconds(seconds)
                }
            case "html_csp": headers.htmlCSP = reader.string(value, what: "html_csp") ?? headers.htmlCSP
            default: break
            }
        }
        return headers
    }

    // MARK: Per endpoint

    /// `auth: none | jwt | api_key | [jwt, api_key]`.
    static func readEndpointAuth(_ node: Node, reader: YAMLReader) -> [EndpointAuthSpec.Method]? {
        let items = node.sequence.map(Array.init) ?? [node]
        var methods: [EndpointAuthSpec.Method] = []
        for item in items {
            guard let text = reader.string(item, what: "auth") else { return nil }
            guard let method = EndpointAuthSpec.Method(rawValue: text) else {
                reader.report(item, "unknown auth method '\(text)'", hint: "use none, jwt, api_key, or a list such as [jwt, api_key]")
                return nil
            }
            methods.append(method)
        }
        if methods.isEmpty {
            reader.report(node, "auth lists no method", hint: "write 'auth: none' for a public route")
            return nil
        }
        if methods.contains(.none) && methods.count > 1 {
            reader.report(node, "auth mixes 'none' with other methods", hint: "a route is either public (none) or needs credentials")
            return nil
        }
        return methods
    }

    static func readRequire(_ node: Node, reader: YAMLReader) -> (roles: [String], scopes: [String], tlsSubjects: [String]) {
        var roles: [String] = [], scopes: [String] = [], tlsSubjects: [String] = []
        for (key, _, value) in reader.mapping(node, what: "require", allowed: requireKeys) ?? [] {
            let items = (value.sequence.map(Array.init) ?? [value]).compactMap { reader.string($0, what: key) }
            switch key {
            case "roles": roles = items
            case "scopes": scopes = items
            default: tlsSubjects = items
            }
        }
        return (roles, scopes, tlsSubjects)
    }

    static func resolve(_ path: String, reader: YAMLReader) -> String {
        path.hasPrefix("/") ? path : ((reader.file as NSString).deletingLastPathComponent as NSString).appendingPathComponent(path)
    }

    static func isHeaderName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F && !"()<>@,;:\\\"/[]?={}".utf8.contains($0) }
    }
}
