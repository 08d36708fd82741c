@testable import BFFRuntime
import BFFSpec
import NIOHTTP1
import Testing

/// CORS for browser clients and the security headers on every gateway response, over real sockets.
@Suite("Edge: CORS and security headers", .timeLimit(.minutes(1)))
struct CORSTests {
    static func yaml(_ stub: StubUpstream, credentials: Bool = true, trusted: String = "[]") -> String {
        """
        name: web
        services:
          svc: { url: "\(stub.url)" }
        trusted_proxies: \(trusted)
        cors:
          origins: ["https://shop.example.com", "https://*.preview.example.com"]
          credentials: \(credentials)
          max_age: 5m
        endpoints:
          - route: GET /page
            calls:
              main: { service: svc, path: /main }
          - route: "* /api/{rest*}"
            proxy: { service: svc, path: "/{rest}" }
        """
    }

    @Test("a preflight from an allowed origin is answered 204 by the gateway and never forwarded")
    func preflightAnswered() async throws {
        try await withStubs { stubs in
            let stub = stubs[0]
            try await withGateway(Self.yaml(stub)) { gateway in
                let response = try await gateway.request(.OPTIONS, "/api/orders", headers: [
                    ("Origin", "https://shop.example.com"),
                    ("Access-Control-Request-Method", "POST"),
                    ("Access-Control-Request-Headers", "authorization, content-type"),
                ])
                #expect(response.status == 204)
                #expect(response.header("Access-Control-Allow-Origin") == "https://shop.example.com")
                #expect(response.header("Access-Control-Allow-Credentials") == "true")
                #expect(response.header("Access-Control-Max-Age") == "300")
                #expect(response.header("Access-Control-Allow-Methods")?.contains("POST") == true)
                #expect(response.header("Vary")?.contains("Origin") == true)
                #expect(stub.requests.isEmpty)
            }
        }
    }

    @Test("preflights from look-alike, null or unlisted origins, or asking for unlisted headers, get no CORS grant", arguments: [
        ("https://shop.example.com.evil.com", "content-type"),
        ("https://evilshop.example.com", "content-type"),
        ("null", "content-type"),
        ("http://shop.example.com", "content-type"),
        ("https://shop.example.com", "x-user-id"),
    ])
    func preflightRefused(origin: String, headers: String) async throws {
        try await withStubs { stubs in
            let stub = stubs[0]
            try await withGateway(Self.yaml(stub)) { gateway in
                let response = try await gateway.request(.OPTIONS, "/api/orders", headers: [
                    ("Origin", origin), ("Access-Control-Request-Method", "GET"), ("Access-Control-Request-Headers", headers),
                ])
                #expect(response.status == 403)
                #expect(response.header("Access-Control-Allow-Origin") == nil)
                #expect(response.header("Content-Type") == "application/problem+json")
                #expect(stub.requests.isEmpty)
            }
        }
    }

    @Test("actual requests: an allowed origin is echoed (never *), others get nothing, Vary: Origin always")
    func actualRequests() async throws {
        try await withStubs { stubs in
            let stub = stubs[0]
            stub.on("/main", body: #"{"ok":true}"#)
            try await withGateway(Self.yaml(stub)) { gateway in
                let allowed = try await gateway.get("/page", headers: [("Origin", "https://pr-42.preview.example.com")])
                #expect(allowed.status == 200)
                #expect(allowed.header("Access-Control-Allow-Origin") == "https://pr-42.preview.example.com")
                #expect(allowed.header("Access-Control-Allow-Credentials") == "true")
                #expect(allowed.header("Access-Control-Expose-Headers")?.contains("X-BFF-Degraded") == true)
                #expect(allowed.header("Vary")?.contains("Origin") == true)

                let other = try await gateway.get("/page", headers: [("Origin", "https://preview.example.com.attacker.io")])
                #expect(other.status == 200)
                #expect(other.header("Access-Control-Allow-Origin") == nil)
                #expect(other.header("Access-Control-Allow-Credentials") == nil)
                #expect(other.header("Vary")?.contains("Origin") == true)

                let none = try await gateway.get("/page")
                #expect(none.header("Vary")?.contains("Origin") == true)

                let problem = try await gateway.get("/missing", headers: [("Origin", "https://shop.example.com")])
                #expect(problem.status == 404)
                #expect(problem.header("Access-Control-Allow-Origin") == "https://shop.example.com")
            }
        }
    }

    @Test("security headers: nosniff everywhere, CSP on HTML, upstream Server and X-Powered-By removed")
    func securityHeaders() async throws {
        try await withStubs { stubs in
            let stub = stubs[0]
            stub.on("/page.html") { _ in
                StubResponse(.ok, "<p>hi</p>", contentType: "text/html", headers: [("Server", "Apache/2.4.1"), ("X-Powered-By", "PHP/5.3")])
            }
            try await withGateway(Self.yaml(stub)) { gateway in
                let html = try await gateway.get("/api/page.html")
                #expect(html.status == 200)
                #expect(html.header("X-Content-Type-Options") == "nosniff")
                #expect(html.header("Content-Security-Policy")?.contains("default-src 'none'") == true)
                #expect(html.header("Server") == nil)
                #expect(html.header("X-Powered-By") == nil)
                #expect(html.header("Strict-Transport-Security") == nil)

                let health = try await gateway.get("/health")
                #expect(health.header("X-Content-Type-Options") == "nosniff")
                #expect(health.header("Content-Security-Policy") == nil)
            }
        }
    }

    @Test("HSTS only when a trusted proxy says the client came over TLS")
    func hstsBehindTrustedProxy() async throws {
        try await withStubs { stubs in
            let stub = stubs[0]
            try await withGateway(Self.yaml(stub, trusted: "[127.0.0.0/8]")) { gateway in
                let tls = try await gateway.get("/health", headers: [("X-Forwarded-Proto", "https")])
                #expect(tls.header("Strict-Transport-Security")?.hasPrefix("max-age=31536000") == true)
                let plain = try await gateway.get("/health")
                #expect(plain.header("Strict-Transport-Security") == nil)
            }
            try await withGateway(Self.yaml(stub, trusted: "[10.0.0.0/8]")) { gateway in
                let spoofed = try await gateway.get("/health", headers: [("X-Forwarded-Proto", "https")])
                #expect(spoofed.header("Strict-Transport-Security") == nil)
            }
        }
    }
}

/// The CORS fields of an answer, as both answer paths compute them.
@Suite("Edge: CORS answer fields")
struct CORSAnswerFieldsTests {
    static func fields(_ origins: [String], credentials: Bool = false) -> CORSAnswerFields {
        CORSAnswerFields(spec: CORSSpec(origins: origins, credentials: credentials, location: SourceLocation(file: "t.yaml", line: 1)))
    }

    @Test("an exact origin in any case, a one-label wildcard, and nothing for look-alikes, null or other schemes")
    func allowedOrigins() {
        let cors = Self.fields(["https://shop.example.com", "https://*.preview.example.com"], credentials: true)
        #expect(cors.allowedOrigin("https://shop.example.com") == "https://shop.example.com")
        #expect(cors.allowedOrigin("HTTPS://Shop.Example.com") == "HTTPS://Shop.Example.com", "matched case-insensitively, echoed as sent")
        #expect(cors.allowedOrigin("https://pr-7.preview.example.com") == "https://pr-7.preview.example.com")
        for refused in ["https://shop.example.com.evil.com", "https://evilshop.example.com", "http://shop.example.com", "null", "https://a.b.preview.example.com", "https://shop.example.com:8443"] {
            #expect(cors.allowedOrigin(refused) == nil, "\(refused)")
        }
        #expect(cors.fields(origin: "https://shop.example.com").map(\.1) == ["https://shop.example.com", "true", CORSSpec.defaultExposeHeaders.joined(separator: ", ")])
        #expect(cors.fields(origin: nil).isEmpty)
    }

    @Test("'*' answers '*' without credentials and never 'null', also for an origin listed after it")
    func anyOrigin() {
        let cors = Self.fields(["*"])
        #expect(cors.allowedOrigin("https://anything.example") == "*")
        #expect(cors.allowedOrigin("null") == nil)
        let first = Self.fields(["*", "https://shop.example.com"])
        #expect(first.allowedOrigin("https://shop.example.com") == "*", "the first matching pattern decides")
        let exactFirst = Self.fields(["https://shop.example.com", "*"])
        #expect(exactFirst.allowedOrigin("https://shop.example.com") == "https://shop.example.com")
    }
}
