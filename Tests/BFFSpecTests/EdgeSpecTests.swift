import BFFSpec
import Foundation
import Testing

/// Loading and validating the edge sections: auth, plans, rate limits, trusted proxies, CORS, limits.
@Suite("SpecLoader: edge sections")
struct EdgeSpecTests {
    static let services = """
        name: edge
        services:
          users: { url: http://127.0.0.1:9001 }

        """

    func load(_ yaml: String, file: String = "edge.yaml") throws -> ClientSpec {
        try SpecLoader.load(yaml: yaml, file: file)
    }

    func messages(_ yaml: String) -> [String] {
        SpecFixtures.diagnostics(yaml, file: "edge.yaml").map(\.description)
    }

    @Test("every edge section is read with its values")
    func fullEdge() throws {
        let spec = try load(
            Self.services + """
                auth:
                  jwt:
                    issuer: https://idp.example
                    audience: mobile
                    leeway: 10s
                    keys:
                      - { kid: k1, alg: HS256, secret_env: BFF_SECRET }
                    jwks: { url: http://127.0.0.1:9200/jwks.json, min_interval: 5s, max_bytes: 64KiB }
                  api_keys: { env: BFF_KEYS, header: X-Partner-Key }
                  forward_claims: { sub: X-User-Id, role: X-User-Role }
                plans:
                  gold: { rate: 50/s, burst: 100, quota: [10_000/day, 1000000/month] }
                rate_limits:
                  store: redis://127.0.0.1:6390/2
                  on_store_error: deny
                  timeout: 750ms
                  limits: [{ key: ip, rate: 100/s, burst: 200 }, { key: header.x-tenant, rate: 600/m }]
                trusted_proxies: [10.0.0.0/8, "fd00::/8"]
                cors: { origins: ["https://shop.example.com", "https://*.example.com"], credentials: true, max_age: 5m }
                limits: { request_line: 4KiB, header_fields: 50, body: 512KiB, header_timeout: 5s, max_connections: 100 }
                security_headers: { hsts_max_age: off }
                endpoints:
                  - route: GET /me
                    auth: [jwt, api_key]
                    require: { roles: [admin, support], scopes: read }
                    rate_limit: { key: user, rate: 10/s }
                    calls:
                      me: { service: users, path: "/users/{auth.sub}" }
                  - route: GET /open
                    auth: none
                    proxy: { service: users, path: "/open" }
                """)
        let edge = spec.edge
        let jwt = try #require(edge.auth?.jwt)
        #expect(jwt.issuer == "https://idp.example" && jwt.audience == "mobile" && jwt.leeway == .seconds(10))
        #expect(jwt.keys.count == 1 && jwt.keys[0].algorithm == .hs256 && jwt.keys[0].material == .secretEnv("BFF_SECRET"))
        #expect(jwt.jwks?.minInterval == .seconds(5) && jwt.jwks?.maxBytes == 64 * 1024 && jwt.jwks?.url.port == 9200)
        #expect(edge.auth?.apiKeys?.header == "X-Partner-Key" && edge.auth?.apiKeys?.env == "BFF_KEYS")
        #expect(edge.auth?.forwardClaims == [ClaimHeader(claim: "sub", header: "X-User-Id"), ClaimHeader(claim: "role", header: "X-User-Role")])
        let gold = try #require(edge.plans["gold"])
        #expect(gold.rate == RateSpec(count: 50, period: .seconds(1)) && gold.burst == 100)
        #expect(gold.quotas == [QuotaSpec(count: 10_000, window: .day), QuotaSpec(count: 1_000_000, window: .month)])
        #expect(edge.rateLimits.store == .redis(RedisURL(host: "127.0.0.1", port: 6390, database: 2)))
        #expect(edge.rateLimits.onStoreError == .deny && edge.rateLimits.timeout == .milliseconds(750))
        #expect(edge.rateLimits.limits.map(\.key) == [.ip, .header("x-tenant")])
        #expect(edge.rateLimits.limits[1].rate == RateSpec(count: 600, period: .seconds(60)) && edge.rateLimits.limits[1].burst == 600)
        #expect(edge.trustedProxies.map(\.description) == ["10.0.0.0/8", "fd00:0:0:0:0:0:0:0/8"])
        #expect(edge.cors?.credentials == true && edge.cors?.maxAge == .seconds(300) && edge.cors?.origins.count == 2)
        #expect(edge.limits.requestLineBytes == 4096 && edge.limits.headerFields == 50 && edge.limits.bodyBytes == 512 * 1024)
        #expect(edge.limits.headerTimeout == .seconds(5) && edge.limits.maxConnections == 100 && edge.limits.headerBytes == 32 * 1024)
        #expect(edge.headers.hstsMaxAge == nil)
        let me = spec.endpoints[0]
        #expect(me.auth?.methods == [.jwt, .apiKey] && me.auth?.roles == ["admin", "support"] && me.auth?.scopes == ["read"])
        #expect(me.rateLimits.first?.key == .user)
        #expect(spec.endpoints[1].auth?.isPublic == true)
    }

    @Test("without edge sections the defaults apply and routes need no auth")
    func defaults() throws {
        let spec = try load(Self.services + "endpoints:\n  - route: GET /a\n    proxy: { service: users, path: /a }\n")
        #expect(spec.edge.auth == nil && spec.edge.cors == nil)
        #expect(spec.edge.rateLimits.store == .memory(maxKeys: RateLimitsSpec.defaultMaxKeys))
        #expect(spec.edge.limits.requestLineBytes == 8192 && spec.edge.limits.headerFields == 100 && spec.edge.limits.headerTimeout == .seconds(10))
    }

    @Test("with auth declared, a route that does not say who may call it is a load error at its line")
    func nothingPublicByAccident() {
        let found = messages(
            Self.services + """
                auth: { jwt: { keys: [{ alg: HS256, secret_env: S }] } }
                endpoints:
                  - route: GET /a
                    proxy: { service: users, path: /a }
                """)
        #expect(found.count == 1)
        #expect(found.first?.hasPrefix("edge.yaml:6:") == true)
        #expect(found.first?.contains("does not say who may call it") == true)
        #expect(found.first?.contains("auth: none") == true)
    }

    @Test("a route taking a method the spec does not configure is an error")
    func unconfiguredMethod() {
        let found = messages(
            Self.services + """
                auth: { jwt: { keys: [{ alg: HS256, secret_env: S }] } }
                endpoints:
                  - route: GET /a
                    auth: api_key
                    proxy: { service: users, path: /a }
                """)
        #expect(found.count == 1 && found[0].contains("configures no auth.api_keys"))
    }

    @Test("{auth.X} on a public route is an error; 'require' needs credentials")
    func authVariablesNeedACaller() {
        let found = messages(
            Self.services + """
                auth: { jwt: { keys: [{ alg: HS256, secret_env: S }] } }
                endpoints:
                  - route: GET /a
                    auth: none
                    require: { roles: [admin] }
                    calls:
                      me: { service: users, path: "/users/{auth.sub}" }
                """)
        #expect(found.contains { $0.contains("reads {auth.sub} but has no authenticated caller") })
        #expect(found.contains { $0.contains("'require' on a route without credentials") })
    }

    @Test("keys pin an algorithm matching their material; secrets never sit in the spec", arguments: [
        ("{ kid: a, secret_env: S }", "has no alg"),
        ("{ alg: none, secret_env: S }", "unknown JWT algorithm 'none'"),
        ("{ alg: RS256, secret_env: S }", "RS256 needs a public key"),
        ("{ alg: HS256, pem_file: k.pem }", "HS256 is an HMAC algorithm"),
        ("{ alg: HS256, secret: hunter2 }", "unknown key 'secret'"),
        ("{ alg: HS256 }", "exactly one of secret_env, secret_file or pem_file"),
        ("{ alg: HS265, secret_env: S }", "did you mean 'HS256'?"),
    ])
    func keyRules(key: String, expected: String) {
        let found = messages(Self.services + "auth: { jwt: { keys: [\(key)] } }\nendpoints: []\n")
        #expect(found.contains { $0.contains(expected) }, "\(found)")
    }

    @Test("malformed edge values are reported with what to write", arguments: [
        ("rate_limits: { limits: [{ key: ip, rate: 10/day }] }", "rate '10/day' is not a rate"),
        ("rate_limits: { limits: [{ key: cookie, rate: 10/s }] }", "rate limit key 'cookie' is unknown"),
        ("rate_limits: { store: mysql://x }", "neither 'memory' nor a redis:// URL"),
        ("rate_limits: { on_store_error: maybe }", "on_store_error must be allow or deny"),
        ("rate_limits: { timeout: 0ms }", "timeout '0ms' is not a duration"),
        ("rate_limits: { timeout: soon }", "timeout 'soon' is not a duration"),
        ("plans: { gold: { quota: 5/week } }", "quota '5/week' is not a quota"),
        ("plans: { gold: { burst: 5 } }", "has a burst but no rate"),
        ("trusted_proxies: [10.0.0.0/33]", "is not an address or CIDR"),
        ("cors: { origins: ['*'], credentials: true }", "cannot be combined with credentials"),
        ("cors: { origins: ['https://shop.example.com/'] }", "is not scheme://host[:port]"),
        ("cors: { origins: [] }", "cors lists no origins"),
        ("limits: { body: lots }", "is not a size"),
        ("limits: { header_timeout: 10 }", "is not a duration"),
        ("auth: { api_keys: { header: X-Api-Key } }", "names neither a 'file' nor an 'env'"),
        ("auth: {}", "neither 'jwt' nor 'api_keys'"),
    ])
    func malformed(section: String, expected: String) {
        let found = messages(Self.services + section + "\nendpoints: []\n")
        #expect(found.contains { $0.contains(expected) }, "\(found)")
    }

    @Test("edge sections in an include are family-wide defaults; the client's own section wins")
    func includedDefaults() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("edge-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try """
            services:
              users: { url: http://127.0.0.1:9001 }
            trusted_proxies: [10.0.0.0/8]
            limits: { header_fields: 40 }
            rate_limits: { limits: [{ key: ip, rate: 5/s }] }
            """.write(to: directory.appendingPathComponent("shared.yaml"), atomically: true, encoding: .utf8)
        let file = directory.appendingPathComponent("client.yaml").path
        try """
            name: client
            include: [shared.yaml]
            limits: { header_fields: 20 }
            endpoints: []
            """.write(toFile: file, atomically: true, encoding: .utf8)
        let spec = try SpecLoader.load(file: file)
        #expect(spec.edge.trustedProxies.map(\.description) == ["10.0.0.0/8"])
        #expect(spec.edge.rateLimits.limits.first?.rate.count == 5)
        #expect(spec.edge.limits.headerFields == 20)
    }

    @Test("CIDR membership for IPv4, IPv6 and IPv4-mapped addresses")
    func cidr() throws {
        let v4 = try #require(CIDR("10.1.0.0/16"))
        #expect(v4.contains("10.1.200.3") && !v4.contains("10.2.0.1") && !v4.contains("not-an-ip"))
        #expect(v4.contains("::ffff:10.1.2.3"))
        let v6 = try #require(CIDR("fd00::/8"))
        #expect(v6.contains("fd12:3456::1") && !v6.contains("fe80::1") && !v6.contains("10.1.2.3"))
        #expect(CIDR("127.0.0.1")?.prefixLength == 32)
        #expect(CIDR("1.2.3") == nil && CIDR("::1::2") == nil && CIDR("1.2.3.4/40") == nil && CIDR("01234::") == nil)
    }

    @Test("CORS origins match exactly or one label under a wildcard; look-alikes and null never match")
    func corsOrigins() {
        #expect(CORSOriginPattern.matches("https://shop.example.com", pattern: "https://shop.example.com"))
        #expect(CORSOriginPattern.matches("HTTPS://Shop.Example.com", pattern: "https://shop.example.com"))
        #expect(CORSOriginPattern.matches("https://a.example.com", pattern: "https://*.example.com"))
        let lookAlikes = [
            "null", "https://shop.example.com.evil.com", "https://evilshop.example.com", "https://evil-example.com",
            "http://shop.example.com", "https://shop.example.com:8443", "https://a.b.example.com", "https://example.com",
            "https://shop.example.com/", "https://user@shop.example.com", "https://shop.example.co",
        ]
        for origin in lookAlikes {
            #expect(!CORSOriginPattern.matches(origin, pattern: "https://shop.example.com"), "\(origin)")
        }
        for origin in lookAlikes where origin != "https://evilshop.example.com" {
            #expect(!CORSOriginPattern.matches(origin, pattern: "https://*.example.com"), "\(origin)")
        }
        #expect(!CORSOriginPattern.matches("null", pattern: "*"))
    }
}
