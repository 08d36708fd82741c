import BFFSpec
import Foundation
import NIOCore
import NIOHTTP1
import Testing

@testable import BFFRuntime

/// Aggregations answered on the event loop (``FastAggregationHandler``) must be indistinguishable
/// from the same routes answered through Hummingbird and the middleware, and keep pipelined
/// answers in request order.
@Suite("Fast aggregations", .timeLimit(.minutes(1)))
struct FastAggregationTests {
    static let endpoints = """
        - route: GET /page/{id}
          calls:
            main: { service: svc, path: "/main/{path.id}", required: true }
            extra: { service: svc, path: /missing, fallback: { none: true } }
        - route: GET /shaped
          meta: false
          calls:
            main: { service: svc, path: /main/x }
          response:
            name: { from: main.name }
        - route: GET /broken
          calls:
            down: { service: svc, path: /down, required: true }
        - route: GET /slow
          calls:
            late: { service: svc, path: /late }
        """

    static func stubbed(_ stub: StubUpstream) {
        stub.on("/main/*", body: #"{"name":"Ada","id":1}"#)
        stub.on("/missing", .notFound, body: #"{"error":"gone"}"#)
        stub.on("/down", .internalServerError, body: #"{"secret":"internal"}"#)
        stub.on("/late", body: #"{"late":true}"#, delay: .milliseconds(300))
    }

    /// What must match between the two paths: status, body with timings blanked, and the headers
    /// a client reads (their values where they are deterministic).
    struct Comparable: Equatable, CustomStringConvertible {
        var status: Int
        var body: String
        var headers: [String: String]

        init(_ response: TestResponse) {
            status = response.status
            body = response.text
                .replacing(/"ms":[0-9.]+/, with: #""ms":0"#)
                .replacing(/"request_id":"[^"]*"/, with: #""request_id":"-""#)
            var headers: [String: String] = [:]
            for (name, value) in response.headers {
                let name = name.lowercased()
                switch name {
                case "x-request-id", "date", "content-length": headers[name] = value.isEmpty ? "" : "present"
                case "server-timing": headers[name] = value.replacing(/dur=[0-9.]+/, with: "dur=0")
                default: headers[name] = value
                }
            }
            self.headers = headers
        }

        var description: String { "\(status) \(headers.sorted { $0.key < $1.key }) \(body)" }
    }

    /// The answers to the same requests through the event-loop path and through Hummingbird.
    static func onBothPaths(
        _ yaml: String,
        _ requests: @escaping @Sendable (TestGateway) async throws -> [Comparable]
    ) async throws -> (fast: [Comparable], slow: [Comparable]) {
        (try await withGateway(yaml, fastAggregations: true, requests), try await withGateway(yaml, fastAggregations: false, requests))
    }

    @Test("every kind of aggregation answer is the same on the event-loop path as through Hummingbird")
    func bothPathsAnswerAlike() async throws {
        try await withStubs { stubs in
            let stub = stubs[0]
            Self.stubbed(stub)
            let yaml = spec(service: stub, endpoints: Self.endpoints)
            let requests: [(String, [(String, String)])] = [
                ("/page/7", [("X-Request-ID", "fixed-id")]),
                ("/page/7?unused=1", []),
                ("/page/%2e%2e", []),
                ("/shaped", []),
                ("/broken", [("X-Request-ID", "broken-id")]),
            ]
            let (fast, slow) = try await Self.onBothPaths(yaml) { gateway in
                var answers: [Comparable] = []
                for (path, headers) in requests {
                    answers.append(Comparable(try await gateway.get(path, headers: headers)))
                }
                let tag = try #require(try await gateway.get("/page/7").header("ETag"))
                answers.append(Comparable(try await gateway.get("/page/7", headers: [("If-None-Match", tag)])))
                return answers
            }
            #expect(fast.map(\.status) == [200, 200, 400, 200, 502, 304])
            #expect(fast == slow)
            #expect(fast[4].body.contains("internal") == false, "an upstream's body leaked into the problem")
        }
    }

    @Test("with CORS on, and for a client closing its connection, the event-loop path answers like Hummingbird: Vary, Connection, a 304")
    func bothPathsAnswerAlikeWithCORSAndClose() async throws {
        try await withStubs { stubs in
            let stub = stubs[0]
            Self.stubbed(stub)
            let yaml = """
                name: test
                services:
                  svc: { url: "\(stub.url)", timeout: 1s }
                cors:
                  origins: ["https://shop.example.com"]
                endpoints:
                \(Self.endpoints)
                """
            let (fast, slow) = try await Self.onBothPaths(yaml) { gateway in
                var answers: [Comparable] = []
                answers.append(Comparable(try await gateway.get("/page/7")))
                answers.append(Comparable(try await gateway.get("/shaped", headers: [("Connection", "close")])))
                let tag = try #require(try await gateway.get("/page/7").header("ETag"))
                answers.append(Comparable(try await gateway.get("/page/7", headers: [("If-None-Match", "W/\"other\", " + tag), ("Connection", "close")])))
                answers.append(Comparable(try await gateway.get("/broken", headers: [("Connection", "close")])))
                return answers
            }
            #expect(fast.map(\.status) == [200, 200, 304, 502])
            #expect(fast[0].headers["vary"] == "Origin")
            // The event-loop path says it will close, as RFC 9112 section 9.6 asks; Hummingbird
            // closes without saying so. Everything else must match.
            #expect(fast.dropFirst().allSatisfy { $0.headers["connection"] == "close" })
            #expect(fast.map { answer in var answer = answer; answer.headers["connection"] = nil; return answer } == slow)
        }
    }

    /// A BFF with every kind of admission an aggregation may have: JWT (with roles and
    /// `forward_claims`), API keys with a plan, both, public; a BFF-wide and a per-route rate
    /// limit in this process; CORS with credentials.
    static func admissionYAML(_ stub: StubUpstream, keysFile: String) -> String {
        """
        name: admission
        services:
          svc: { url: "\(stub.url)", timeout: 1s }
        auth:
          jwt:
            issuer: test-idp
            audience: bff
            keys: [{ kid: hs, alg: HS256, secret_file: "\(TestTokens.file(TestTokens.secret))" }]
          api_keys: { file: "\(keysFile)" }
          forward_claims: { sub: X-User-Id, tenant: X-Tenant }
        # Rates so high that every request finds its budget full, so the RateLimit-* fields do not
        # depend on how fast either path answered; /partner's own limit does the counting.
        plans:
          basic: { rate: 1000000/s, burst: 1000000 }
        rate_limits:
          limits: [{ key: ip, rate: 1000000/s, burst: 1000000 }]
        cors:
          origins: ["https://shop.example.com"]
          credentials: true
          expose_headers: [X-BFF-Degraded]
        endpoints:
          - route: GET /me
            auth: jwt
            calls:
              me: { service: svc, path: "/main/{auth.sub}", required: true, headers: { X-Seen-Tenant: "{header.x-tenant:none}" } }
          - route: GET /admin
            auth: jwt
            require: { roles: [admin] }
            calls:
              main: { service: svc, path: /main/admin }
          - route: GET /partner
            auth: api_key
            rate_limit: { key: api_key, rate: 2/h, burst: 2 }
            calls:
              main: { service: svc, path: /main/partner }
          - route: GET /either
            auth: [jwt, api_key]
            calls:
              main: { service: svc, path: /main/either }
          - route: GET /open
            auth: none
            calls:
              main: { service: svc, path: /main/open }
        """
    }

    @Test("authenticated, rate-limited and CORS requests get the same answers on the event-loop path as through the middleware, which admits them alike")
    func bothPathsAdmitAlike() async throws {
        let key = APIKeyLine.generate(client: "acme", plan: "basic")
        let keysFile = TestTokens.file(key.line + "\n")
        let user = TestTokens.hs256(claims: TestTokens.claims(sub: "u1", ["tenant": "acme", "roles": ["customer"]]))
        let admin = TestTokens.hs256(claims: TestTokens.claims(sub: "a1", ["roles": ["admin"]]))
        let expired = TestTokens.hs256(claims: TestTokens.claims(["exp": TestTokens.now - 120]))
        let origin = ("Origin", "https://shop.example.com")
        // Every request asks to close its connection: the event-loop path says so in its answer,
        // Hummingbird does not, which shows which path answered.
        let requests: [(String, [(String, String)])] = [
            ("/me", []),
            ("/me", [("Authorization", "Bearer not.a.token")]),
            ("/me", [("Authorization", "Bearer \(expired)")]),
            ("/me", [("Authorization", "Bearer \(user)"), ("X-User-Id", "forged")]),
            ("/me", [("Authorization", "Bearer \(user)"), ("X-User-Id", "forged"), ("X-Tenant", "forged")]),
            ("/me", [("Authorization", "Bearer \(user)"), origin]),
            ("/me?access_token=\(user)", [("Authorization", "Bearer \(user)")]),
            ("/admin", [("Authorization", "Bearer \(user)")]),
            ("/admin", [("Authorization", "Bearer \(admin)")]),
            ("/admin", [("Authorization", "Bearer \(admin)")]),
            ("/partner", [("X-Api-Key", key.key)]),
            ("/partner", [("X-Api-Key", key.key), origin]),
            ("/partner", [("X-Api-Key", key.key)]),
            ("/partner", [("X-Api-Key", "bffk_unknown")]),
            ("/either", [("X-Api-Key", key.key)]),
            ("/either", [("Authorization", "Bearer \(admin)")]),
            ("/open", [origin]),
            ("/open", [("Origin", "https://shop.example.com.evil.com")]),
        ]
        try await withStubs { stubs in
            let stub = stubs[0]
            Self.stubbed(stub)
            let (fast, slow) = try await Self.onBothPaths(Self.admissionYAML(stub, keysFile: keysFile)) { gateway in
                var answers: [Comparable] = []
                for (path, headers) in requests {
                    answers.append(Comparable(try await gateway.get(path, headers: headers + [("Connection", "close")])))
                }
                return answers
            }
            #expect(fast.map(\.status) == [401, 401, 401, 200, 200, 200, 400, 403, 200, 200, 200, 200, 429, 401, 200, 200, 200, 200])
            #expect(fast.map { answer in var answer = answer; answer.headers["connection"] = nil; return answer } == slow)
            #expect(slow.allSatisfy { $0.headers["connection"] == nil })
            // A token not seen before goes through the middleware, which keeps it once verified;
            // everything else is answered on the event loop.
            let onLoop = fast.map { $0.headers["connection"] == "close" }
            #expect(onLoop == [true, false, false, false, true, true, true, true, false, true, true, true, true, true, true, true, true, true])
            #expect(fast[5].headers["access-control-allow-origin"] == "https://shop.example.com" && fast[5].headers["access-control-allow-credentials"] == "true")
            #expect(fast[16].headers["access-control-expose-headers"] == "X-BFF-Degraded")
            #expect(fast[17].headers["access-control-allow-origin"] == nil)
            #expect(fast[12].headers["retry-after"] != nil && fast[11].headers["ratelimit-remaining"] == "0")
            #expect(fast[0].headers["www-authenticate"] != nil)
            // The caller's claims, never the client's copies, reach the calls on both paths.
            let calls = stub.requests(to: "/main/u1")
            #expect(calls.count == 6)
            #expect(calls.allSatisfy { $0.headers["x-user-id"] == ["u1"] && $0.headers["x-tenant"] == ["acme"] && $0.headers["x-seen-tenant"] == ["acme"] })
        }
    }

    @Test("a literal route's own path and its other spellings reach the same endpoint on both paths, and a literal beats a capture")
    func literalPathsRouteAlike() async throws {
        try await withStubs { stubs in
            let stub = stubs[0]
            Self.stubbed(stub)
            stub.on("/other", body: #"{"other":true}"#)
            let yaml = spec(
                service: stub,
                endpoints: """
                    - route: GET /a/{x}
                      calls:
                        main: { service: svc, path: "/main/{path.x}" }
                    - route: GET /a/b
                      calls:
                        literal: { service: svc, path: /other }
                    - route: GET /p
                      proxy: { service: svc, path: /other }
                    """
            )
            let paths = ["/a/b", "/a/b?q=1", "/a//b", "/a/./b", "/a/b/", "/x/../a/b", "/a/c", "/p", "/a/b%20"]
            let (fast, slow) = try await Self.onBothPaths(yaml) { gateway in
                var answers: [Comparable] = []
                for path in paths { answers.append(Comparable(try await gateway.get(path))) }
                return answers
            }
            #expect(fast.prefix(6).allSatisfy { $0.body.contains(#""literal":{"other":true}"#) })
            #expect(fast[6].body.contains(#""main":{"name":"Ada""#))
            #expect(fast == slow)
        }
    }

    @Test("pipelined requests are answered in order when an aggregation waits and the next request goes through Hummingbird")
    func pipelinedAnswersKeepTheirOrder() async throws {
        try await withStubs { stubs in
            let stub = stubs[0]
            Self.stubbed(stub)
            try await withGateway(spec(service: stub, endpoints: Self.endpoints)) { gateway in
                let requests =
                    "GET /slow HTTP/1.1\r\nHost: gw\r\n\r\n"
                    + "GET /health HTTP/1.1\r\nHost: gw\r\n\r\n"
                    + "GET /page/1 HTTP/1.1\r\nHost: gw\r\n\r\n"
                    + "GET /nope HTTP/1.1\r\nHost: gw\r\n\r\n"
                    + "GET /page/2 HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n"
                let answers = try await RawHTTP.pipelined(requests, port: gateway.port, count: 5)
                #expect(answers.map(\.status) == [200, 200, 200, 404, 200])
                #expect(answers.count == 5)
                guard answers.count == 5 else { return }
                #expect(answers[0].body.contains(#""late":true"#))
                #expect(answers[1].body == #"{"status":"ok"}"#)
                #expect(answers[2].body.contains(#""name":"Ada""#))
                #expect(answers[4].body.contains(#""name":"Ada""#))
                #expect(stub.requests(to: "/main/2").count == 1)
            }
        }
    }

    @Test("after answers written by the event-loop path, a refused request on the same connection is still answered, then the connection closes")
    func refusalAfterFastAnswers() async throws {
        try await withStubs { stubs in
            let stub = stubs[0]
            Self.stubbed(stub)
            try await withGateway(spec(service: stub, endpoints: Self.endpoints)) { gateway in
                let connection = try await RawConnection.open(port: gateway.port)
                defer { Task { await connection.close() } }
                for count in 1...2 {
                    try await connection.send("GET /page/\(count) HTTP/1.1\r\nHost: gw\r\n\r\n")
                    _ = try await connection.responses(count)
                }
                try await connection.send("GET /page/3 HTTP/1.1\r\nHost: gw\r\nX-A: a\u{0}b\r\n\r\n")
                let answers = try await connection.responsesUntilClosed()
                #expect(answers.map(\.status) == [200, 200, 400])
                #expect(answers.last?.header("Content-Type") == "application/problem+json")
            }
        }
    }

    @Test("a client that goes away mid-aggregation cancels the calls in flight")
    func clientGoneCancelsCalls() async throws {
        try await withStubs { stubs in
            let stub = stubs[0]
            Self.stubbed(stub)
            try await withGateway(spec(service: stub, endpoints: Self.endpoints)) { gateway in
                await #expect(throws: RawHTTPError.self) {
                    _ = try await RawHTTP.send("GET /slow HTTP/1.1\r\nHost: gw\r\n\r\n", port: gateway.port, timeout: .milliseconds(100))
                }
                let cancelled = await stub.eventually(within: .seconds(5)) { $0.requests(to: "/late").first?.cancelledAt != nil }
                #expect(cancelled, "the service still had the abandoned call open")
            }
        }
    }
}

/// The `Date` the fast path writes must be the IMF-fixdate Hummingbird writes.
@Suite("HTTP date")
struct HTTPDateTests {
    @Test("IMF-fixdate: RFC 9110's own example, single-digit day and time parts padded, and the epoch")
    func imfFixdate() {
        #expect(HTTPDate.format(784_111_777) == "Sun, 06 Nov 1994 08:49:37 GMT")
        #expect(HTTPDate.format(0) == "Thu, 01 Jan 1970 00:00:00 GMT")
        #expect(HTTPDate.format(1_796_112_004) == "Tue, 01 Dec 2026 08:00:04 GMT")
    }

    @Test("the cached value follows the clock")
    func followsTheClock() {
        var date = HTTPDate()
        let now = date.now()
        #expect(now == HTTPDate.format(time(nil)) || now == HTTPDate.format(time(nil) - 1))
    }
}
