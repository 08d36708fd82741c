import BFFRuntime
import BFFSpec
import Foundation
import NIOHTTP1
import Testing

/// What an adversarial probe of `bff demo` found getting through, each on both answer paths of an
/// aggregation (on the event loop, and through Hummingbird and the middleware) and on a proxy
/// route: client-address and override headers, request bodies of undeclared length, malformed
/// chunk sizes, a refused body's connection left open, and credentials passed to services.
@Suite("Edge hardening", .timeLimit(.minutes(1)))
struct EdgeHardeningTests {
    static func yaml(_ stub: StubUpstream, extra: String = "") -> String {
        """
        name: hardening
        services:
          svc: { url: "\(stub.url)", timeout: 2s }
        limits: { body: 1000, proxy_body: 4000 }
        hygiene: { drop_headers: [X-Debug-User] }
        \(extra)
        endpoints:
          - route: GET /agg
            calls:
              main:
                service: svc
                path: /main
                required: true
                headers:
                  X-Seen-Real-IP: "{header.x-real-ip:absent}"
                  X-Seen-True-Client-IP: "{header.true-client-ip:absent}"
                  X-Seen-Method: "{header.x-http-method:absent}"
                  X-Seen-Debug-User: "{header.x-debug-user:absent}"
          - route: "* /api/{rest*}"
            proxy: { service: svc, path: "/r/{rest}" }
        """
    }

    /// Headers a client may use to pose as another address, host, URL or method.
    static let spoofed: [(String, String)] = [
        ("X-Real-IP", "10.0.0.1"), ("True-Client-IP", "10.0.0.2"), ("X-Client-IP", "10.0.0.3"), ("Client-IP", "10.0.0.4"),
        ("CF-Connecting-IP", "10.0.0.5"), ("Fastly-Client-IP", "10.0.0.6"), ("X-Cluster-Client-IP", "10.0.0.7"),
        ("X-Originating-IP", "10.0.0.8"), ("X-Remote-IP", "10.0.0.9"), ("X-Remote-Addr", "10.0.0.10"),
        ("X-Host", "admin.internal"), ("X-HTTP-Method", "DELETE"), ("X-Method-Override", "DELETE"),
        ("X-Debug-User", "root"),
    ]

    @Test("client-address and override headers (and the spec's drop_headers) never reach a service; X-Real-IP is the client's", arguments: [true, false])
    func spoofedHeadersDropped(fastAggregations: Bool) async throws {
        try await withStubs { stubs in
            let stub = stubs[0]
            stub.on("/main", body: #"{"ok":true}"#)
            stub.on("/r/*", body: "{}")
            try await withGateway(Self.yaml(stub), fastAggregations: fastAggregations) { gateway in
                let aggregated = try await gateway.get("/agg", headers: Self.spoofed)
                #expect(aggregated.status == 200)
                let call = try #require(stub.requests(to: "/main").first)
                for name in ["x-seen-real-ip", "x-seen-true-client-ip", "x-seen-method", "x-seen-debug-user"] {
                    #expect(call.headers[name] == ["absent"], "\(name): \(call.headers[name])")
                }

                let proxied = try await gateway.get("/api/x", headers: Self.spoofed)
                #expect(proxied.status == 200)
                let forwarded = try #require(stub.requests(to: "/r/x").first)
                for (name, _) in Self.spoofed where name != "X-Real-IP" {
                    #expect(!forwarded.headers.contains(name: name), "\(name) reached the service")
                }
                #expect(forwarded.headers["x-real-ip"] == ["127.0.0.1"])
                #expect(forwarded.headers["x-forwarded-for"] == ["127.0.0.1"])
            }
        }
    }

    @Test("behind a trusted proxy, X-Real-IP is the client the forwarding chain names, not what the client claims")
    func realIPFromTrustedChain() async throws {
        try await withStubs { stubs in
            let stub = stubs[0]
            stub.on("/r/*", body: "{}")
            try await withGateway(Self.yaml(stub, extra: "trusted_proxies: [127.0.0.0/8]")) { gateway in
                let response = try await gateway.get("/api/x", headers: [("X-Forwarded-For", "203.0.113.9"), ("X-Real-IP", "10.9.9.9")])
                #expect(response.status == 200)
                let forwarded = try #require(stub.requests.first)
                #expect(forwarded.headers["x-real-ip"] == ["203.0.113.9"])
                #expect(forwarded.headers["x-forwarded-for"] == ["203.0.113.9, 127.0.0.1"])
            }
        }
    }

    @Test("drop_headers must name droppable headers", arguments: [
        ("hygiene: { drop_headers: [Host] }", "Host cannot be dropped"),
        ("hygiene: { drop_headers: [\"X Bad\"] }", "is not a header name"),
        ("hygiene: { drop_list: [X-A] }", "drop_list"),
    ])
    func dropHeadersValidated(line: String, message: String) throws {
        let yaml = "name: t\nservices: { svc: { url: \"http://127.0.0.1:1\" } }\n\(line)\nendpoints:\n  - route: GET /x\n    proxy: { service: svc, path: /x }\n"
        #expect {
            try SpecLoader.load(yaml: yaml, file: "hygiene.yaml")
        } throws: { error in
            let text = "\(error)"
            return text.contains(message) && text.contains("hygiene.yaml:3")
        }
    }

    // MARK: Bodies of undeclared length

    /// `body` as chunks of `size` bytes, then the last chunk.
    static func chunked(_ total: Int, chunk size: Int = 500) -> String {
        var text = ""
        var left = total
        while left > 0 {
            let take = min(size, left)
            text += String(take, radix: 16) + "\r\n" + String(repeating: "a", count: take) + "\r\n"
            left -= take
        }
        return text + "0\r\n\r\n"
    }

    @Test("a chunked body past limits.body on an aggregation is 413 and the connection closes; within it is served", arguments: [true, false])
    func chunkedBodyLimit(fastAggregations: Bool) async throws {
        try await withStubs { stubs in
            let stub = stubs[0]
            stub.on("/main", body: #"{"ok":true}"#)
            try await withGateway(Self.yaml(stub), fastAggregations: fastAggregations) { gateway in
                let head = "GET /agg HTTP/1.1\r\nHost: g\r\nTransfer-Encoding: chunked\r\n\r\n"
                let fine = try await RawConnection.open(port: gateway.port)
                try await fine.send(head + Self.chunked(900))
                let served = try await fine.responses(1)
                #expect(served.map(\.status) == [200])
                await fine.close()

                // More than the limit is sent, but no last chunk: the answer cannot wait for the body's end.
                let connection = try await RawConnection.open(port: gateway.port)
                try await connection.send(head + String(Self.chunked(3000).dropLast(5)))
                let responses = try await connection.responsesUntilClosed()
                #expect(responses.map(\.status) == [413])
                try RequestHygieneTests.expectProblem(responses[0], 413)
                #expect(responses[0].header("X-Request-ID") != nil)
            }
        }
    }

    @Test("a chunked body past the proxy limit is 413 before it is all read, and the connection closes")
    func chunkedProxyBodyLimit() async throws {
        try await withStubs { stubs in
            let stub = stubs[0]
            stub.on("/r/*", body: "{}")
            try await withGateway(Self.yaml(stub)) { gateway in
                let connection = try await RawConnection.open(port: gateway.port)
                try await connection.send("POST /api/up HTTP/1.1\r\nHost: g\r\nTransfer-Encoding: chunked\r\n\r\n" + String(Self.chunked(6000).dropLast(5)))
                let responses = try await connection.responsesUntilClosed()
                #expect(responses.map(\.status) == [413])
                try RequestHygieneTests.expectProblem(responses[0], 413)
            }
        }
    }

    @Test(
        "a malformed chunk size is 400 problem+json with Connection: close, on aggregation and proxy routes",
        arguments: ["zz", "0x5", "-1", "1234567890123456789012", "5 ", "+5"], ["GET /agg", "POST /api/x"]
    )
    func malformedChunkSize(size: String, request: String) async throws {
        try await withStubs { stubs in
            let stub = stubs[0]
            stub.on("/main", body: #"{"ok":true}"#)
            stub.on("/r/*", body: "{}")
            try await withGateway(Self.yaml(stub)) { gateway in
                let response = try await RequestHygieneTests.refused(
                    "\(request) HTTP/1.1\r\nHost: g\r\nTransfer-Encoding: chunked\r\n\r\n\(size)\r\nhello\r\n0\r\n\r\n",
                    port: gateway.port
                )
                try RequestHygieneTests.expectProblem(response, 400)
                let detail = try response.json()["detail"]
                #expect(detail?.templateText?.contains("chunk size") == true, "\(String(describing: detail))")
            }
        }
    }

    @Test("a malformed chunk after an answered request on the same connection closes it after that answer")
    func malformedChunkAfterAnswer() async throws {
        try await withStubs { stubs in
            let stub = stubs[0]
            stub.on("/r/*", body: "{}")
            try await withGateway(Self.yaml(stub)) { gateway in
                let connection = try await RawConnection.open(port: gateway.port)
                try await connection.send(
                    "POST /api/one HTTP/1.1\r\nHost: g\r\nContent-Length: 5\r\n\r\nhello"
                        + "POST /api/two HTTP/1.1\r\nHost: g\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"
                )
                let responses = try await connection.responsesUntilClosed()
                #expect(responses.map(\.status) == [200, 400])
            }
        }
    }

    // MARK: Closing after a refused body

    @Test("after a 413 for a Content-Length over an aggregation's limit the connection closes, without the body", arguments: [true, false])
    func closeAfterDeclaredTooLarge(fastAggregations: Bool) async throws {
        try await withStubs { stubs in
            let stub = stubs[0]
            stub.on("/main", body: #"{"ok":true}"#)
            try await withGateway(Self.yaml(stub), fastAggregations: fastAggregations) { gateway in
                let connection = try await RawConnection.open(port: gateway.port)
                let started = ContinuousClock.now
                // Over the aggregation's 1000 bytes, under the listener's 4000: the route refuses it.
                try await connection.send("GET /agg HTTP/1.1\r\nHost: g\r\nContent-Length: 2000\r\n\r\n")
                let responses = try await connection.responsesUntilClosed(within: .seconds(5))
                #expect(responses.map(\.status) == [413])
                try RequestHygieneTests.expectProblem(responses[0], 413)
                #expect(ContinuousClock.now - started < .seconds(5))
                #expect(stub.requests.isEmpty)
            }
        }
    }

    // MARK: Credentials

    static func credentialsYAML(_ stub: StubUpstream, keysFile: String) -> String {
        """
        name: credentials
        services:
          svc: { url: "\(stub.url)" }
        auth:
          jwt:
            issuer: test-idp
            audience: bff
            keys: [{ kid: hs, alg: HS256, secret_file: "\(TestTokens.file(TestTokens.secret))" }]
          api_keys: { file: "\(keysFile)" }
        plans:
          basic: { rate: 100/s, burst: 100 }
        endpoints:
          - route: GET /jwt
            auth: jwt
            proxy: { service: svc, path: /jwt }
          - route: GET /jwt-kept
            auth: jwt
            proxy: { service: svc, path: /jwt-kept, forward_credentials: true }
          - route: GET /key
            auth: api_key
            proxy: { service: svc, path: /key }
          - route: GET /key-kept
            auth: [jwt, api_key]
            proxy: { service: svc, path: /key-kept, forward_credentials: true }
          - route: GET /public
            auth: none
            proxy: { service: svc, path: /public }
        """
    }

    @Test("a proxy passes on the credentials its route checked only with forward_credentials; public routes pass the client's own")
    func credentialsForwarding() async throws {
        let key = APIKeyLine.generate(client: "acme", plan: "basic")
        let keysFile = TestTokens.file(key.line + "\n")
        let token = TestTokens.hs256(claims: TestTokens.claims())
        try await withStubs { stubs in
            let stub = stubs[0]
            stub.on("/*", body: "{}")
            try await withGateway(Self.credentialsYAML(stub, keysFile: keysFile)) { gateway in
                let bearer = ("Authorization", "Bearer \(token)")
                let apiKey = ("X-Api-Key", key.key)
                let statuses = [
                    try await gateway.get("/jwt", headers: [bearer]).status,
                    try await gateway.get("/jwt-kept", headers: [bearer]).status,
                    try await gateway.get("/key", headers: [apiKey]).status,
                    try await gateway.get("/key-kept", headers: [apiKey]).status,
                    try await gateway.get("/public", headers: [("Authorization", "Basic dTE6cA==")]).status,
                ]
                #expect(statuses == [200, 200, 200, 200, 200])

                func seen(_ path: String, _ header: String) -> [String] { stub.requests(to: path).first?.headers[header] ?? ["(no request)"] }
                #expect(seen("/jwt", "authorization") == [])
                #expect(seen("/jwt-kept", "authorization") == ["Bearer \(token)"])
                #expect(seen("/key", "x-api-key") == [])
                #expect(seen("/key-kept", "x-api-key") == [key.key])
                #expect(seen("/public", "authorization") == ["Basic dTE6cA=="])
            }
        }
    }
}
