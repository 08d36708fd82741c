import AsyncHTTPClient
import BFFSpec
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization
import Testing

@testable import BFFRuntime

/// Proxied requests answered on the event loop (``FastAggregationHandler`` with ``LoopProxyCall``)
/// must be indistinguishable from the same requests through Hummingbird and ``ProxyEndpoint``:
/// the same answers to the client and the same requests to the service.
@Suite("Fast proxies", .timeLimit(.minutes(1)))
struct FastProxyTests {
    static func yaml(_ stub: StubUpstream, keysFile: String) -> String {
        """
        name: proxies
        services:
          svc: { url: "\(stub.url)", timeout: 1s }
        auth:
          jwt:
            issuer: test-idp
            audience: bff
            keys: [{ kid: hs, alg: HS256, secret_file: "\(TestTokens.file(TestTokens.secret))" }]
          api_keys: { file: "\(keysFile)" }
          forward_claims: { sub: X-User-Id }
        plans:
          basic: { rate: 1000000/s, burst: 1000000 }
        cors:
          origins: ["https://shop.example.com"]
          credentials: true
        endpoints:
          - route: "* /p/{rest*}"
            auth: none
            proxy: { service: svc, path: "/p/{rest}" }
          - route: GET /jwt/{rest*}
            auth: jwt
            proxy: { service: svc, path: "/p/{rest}" }
          - route: GET /key/{rest*}
            auth: api_key
            rate_limit: { key: api_key, rate: 2/h, burst: 2 }
            proxy: { service: svc, path: "/p/{rest}" }
          - route: GET /chunked/{rest*}
            auth: none
            proxy: { service: svc, path: "/echo/{rest}" }
          - route: GET /agg
            auth: none
            calls:
              main: { service: svc, path: /p/plain }
        """
    }

    /// `GET /f/...` proxied to `upstream`'s `/...`.
    static func scriptedYAML(_ upstream: ScriptedUpstream) -> String {
        """
        name: scripted
        services:
          svc: { url: "\(upstream.url)", timeout: 5s }
        endpoints:
          - route: GET /f/{rest*}
            proxy: { service: svc, path: "/{rest}" }
        """
    }

    static func stubbed(_ stub: StubUpstream) {
        let upstreamHeaders = [
            ("Server", "stub/1.0"), ("X-Powered-By", "PHP/5"), ("Date", "Mon, 01 Jan 2001 00:00:00 GMT"), ("X-Request-ID", "upstream-id"),
            ("Access-Control-Allow-Origin", "*"), ("Vary", "Accept"), ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2"), ("X-Content-Type-Options", "sniff"),
            ("Keep-Alive", "timeout=5"), ("Cache-Control", "max-age=60"), ("connection", "X-Hop, keep-alive"), ("x-HOP", "hop-only"),
            ("CONTENT-security-POLICY", "default-src 'none'"),
        ]
        stub.on("/p/plain") { _ in StubResponse(.ok, #"{"plain":true}"#, headers: upstreamHeaders) }
        stub.on("/p/page") { _ in StubResponse(.ok, "<html></html>", contentType: "text/html; charset=utf-8") }
        stub.on("/p/missing", .notFound, body: #"{"error":"no such thing"}"#)
        stub.on("/p/empty") { _ in StubResponse(.noContent, "") }
    }

    /// What the service saw of one request: method, target and headers, the request id blanked.
    static func seen(_ request: RecordedRequest) -> String {
        let headers = request.headers.map { ($0.name.lowercased(), $0.name.lowercased() == "x-request-id" ? "-" : $0.value) }
            .sorted { $0 < $1 }
            .map { "\($0.0)=\($0.1)" }
        return "\(request.method) \(request.uri) \(headers.joined(separator: "; "))"
    }

    @Test("proxied answers, and the requests the service gets, are the same on the event-loop path as through Hummingbird")
    func bothPathsProxyAlike() async throws {
        let key = APIKeyLine.generate(client: "acme", plan: "basic")
        let keysFile = TestTokens.file(key.line + "\n")
        let user = TestTokens.hs256(claims: TestTokens.claims(sub: "u1", [:]))
        let origin = ("Origin", "https://shop.example.com")
        // Every request asks to close its connection: the event-loop path says so in its answer,
        // Hummingbird does not, which shows which path answered.
        let requests: [(HTTPMethod, String, [(String, String)])] = [
            (.GET, "/p/plain", []),
            (.GET, "/p/plain?x=1&q=a%20b", [origin, ("X-Request-ID", "client-id"), ("Accept", "application/json"), ("Connection", "X-Client-Hop"), ("x-client-HOP", "1")]),
            (.GET, "/p/plain", [("Origin", "https://evil.example.com")]),
            (.HEAD, "/p/plain", []),
            (.DELETE, "/p/plain", [("Idempotency-Key", "k1")]),
            (.OPTIONS, "/p/plain", []),
            (.OPTIONS, "/p/plain", [origin, ("Access-Control-Request-Method", "GET")]),
            (.GET, "/p/page", []),
            (.GET, "/p/missing", []),
            (.GET, "/p/empty", []),
            (.GET, "/p/%2e%2e/secret", []),
            (.GET, "/chunked/x", []),
            (.GET, "/jwt/plain", [("Authorization", "Bearer \(user)"), ("X-User-Id", "forged")]),
            (.GET, "/jwt/plain", [("Authorization", "Bearer \(user)"), ("X-User-Id", "forged")]),
            (.GET, "/jwt/plain", []),
            (.GET, "/key/plain", [("X-Api-Key", key.key)]),
            (.GET, "/key/plain", [("X-Api-Key", key.key), origin]),
            (.GET, "/key/plain", [("X-Api-Key", key.key)]),
            (.GET, "/key/plain", [("X-Api-Key", "bffk_unknown")]),
            (.GET, "/agg", []),
        ]
        try await withStubs { stubs in
            let stub = stubs[0]
            Self.stubbed(stub)
            let run: @Sendable (TestGateway) async throws -> [FastAggregationTests.Comparable] = { gateway in
                var answers: [FastAggregationTests.Comparable] = []
                for (method, path, headers) in requests {
                    answers.append(FastAggregationTests.Comparable(try await gateway.request(method, path, headers: headers + [("Connection", "close")])))
                }
                return answers
            }
            let yaml = Self.yaml(stub, keysFile: keysFile)
            let fast = try await withGateway(yaml, fastAggregations: true, run)
            let seenFast = stub.requests.map(Self.seen)
            let slow = try await withGateway(yaml, fastAggregations: false, run)
            let seenSlow = stub.requests.dropFirst(seenFast.count).map(Self.seen)

            #expect(fast.map(\.status) == [200, 200, 200, 200, 200, 200, 204, 200, 404, 204, 400, 200, 200, 200, 401, 200, 200, 429, 401, 200])
            for (index, (one, other)) in zip(fast, slow).enumerated() {
                var one = one
                one.headers["connection"] = nil
                #expect(one == other, "request \(index): \(requests[index].0) \(requests[index].1)")
            }
            #expect(seenFast == seenSlow)
            let onLoop = fast.map { $0.headers["connection"] == "close" }
            // The preflight, the refused path and a token not seen before go through the middleware.
            #expect(onLoop == [true, true, true, true, true, true, false, true, true, true, false, true, false, true, true, true, true, true, true, true])

            // What the middleware replaces, removes or adds, the event-loop path does too.
            let plain = fast[0].headers
            #expect(plain["server"] == nil && plain["x-powered-by"] == nil && plain["keep-alive"] == nil)
            #expect(plain["x-hop"] == nil, "a field the service's Connection names describes its hop only")
            #expect(plain["content-security-policy"] == "default-src 'none'", "the service's own policy, in any letter case, is kept")
            #expect(plain["x-content-type-options"] == "nosniff" && plain["cache-control"] == "max-age=60")
            #expect(fast[1].headers["access-control-allow-origin"] == "https://shop.example.com")
            #expect(fast[2].headers["access-control-allow-origin"] == "*", "a refused origin leaves the service's own field")
            #expect(fast[7].headers["content-security-policy"] != nil)
            #expect(fast[11].headers["transfer-encoding"] == "chunked")
            #expect(fast[16].headers["ratelimit-remaining"] == "0" && fast[17].headers["retry-after"] != nil)
            // The service never sees the caller's token or a client copy of a claim header.
            let jwtCalls = seenFast.filter { $0.contains("x-user-id=") }
            #expect(jwtCalls.count == 2 && jwtCalls.allSatisfy { $0.contains("x-user-id=u1") && !$0.contains("authorization") })
            #expect(seenFast.filter { $0.hasPrefix("GET /p/plain?x=1&q=a%20b ") }.allSatisfy { $0.contains("x-forwarded-for=127.0.0.1") && $0.contains("x-real-ip=127.0.0.1") })
            #expect(seenFast.filter { $0.hasPrefix("GET /p/plain?x=1&q=a%20b ") }.allSatisfy { !$0.contains("x-client-hop") }, "a field the client's Connection names stays on its hop")
        }
    }

    @Test("a 1 MiB answer of unknown length, in 64 chunks, streams whole, chunked, and the connection carries the next request", arguments: [true, false])
    func largeChunkedAnswer(fastAggregations: Bool) async throws {
        let upstream = try await ScriptedUpstream.start { _, request in
            if request.head.hasPrefix("GET /big ") {
                let chunk = String(repeating: "x", count: 16384)
                let body = String(repeating: "4000\r\n" + chunk + "\r\n", count: 64) + "0\r\n\r\n"
                return .init("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: application/octet-stream\r\n\r\n", body)
            }
            return .init("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        }
        defer { Task { try? await upstream.shutdown() } }
        try await withGateway(Self.scriptedYAML(upstream), fastAggregations: fastAggregations) { gateway in
            let client = HTTPClient(eventLoopGroup: MultiThreadedEventLoopGroup.singleton)
            defer { _ = client.shutdown() }
            let response = try await client.execute(HTTPClientRequest(url: gateway.baseURL + "/f/big"), timeout: .seconds(20))
            #expect(response.status == .ok)
            #expect(response.headers["transfer-encoding"] == ["chunked"])
            let body = try await response.body.collect(upTo: 4 << 20)
            #expect(body == ByteBuffer(repeating: UInt8(ascii: "x"), count: 1 << 20))
            // The same upstream connection carries it: an answer that paused its reading must not leave it paused.
            let next = try await client.execute(HTTPClientRequest(url: gateway.baseURL + "/f/small"), timeout: .seconds(5))
            #expect(String(buffer: try await next.body.collect(upTo: 1024)) == "ok")
        }
    }

    @Test("a client that leaves mid-answer closes the service connection on both paths; the next request opens a new one")
    func clientLeavesMidAnswer() async throws {
        let bulk = try await BulkUpstream.start()
        defer { Task { try? await bulk.shutdown() } }
        let yaml = """
            name: bulk
            services:
              svc: { url: "http://127.0.0.1:\(bulk.port)", timeout: 5s }
            endpoints:
              - route: GET /bulk/{rest*}
                proxy: { service: svc, path: "/bulk/{rest}" }
            """
        for fastAggregations in [true, false] {
            try await withGateway(yaml, adminListener: true, fastAggregations: fastAggregations) { gateway in
                // 1 GiB asked for, a few bytes read, then the client goes.
                let socket = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(host: "127.0.0.1", port: gateway.port).get()
                try await socket.writeAndFlush(ByteBuffer(string: "GET /bulk/1073741824 HTTP/1.1\r\nHost: x\r\n\r\n")).get()
                try await Task.sleep(for: .milliseconds(50))
                try await socket.close().get()
                let drained = await eventually(within: .seconds(5)) {
                    let metrics = (try? await gateway.admin("/metrics"))?.text ?? ""
                    return PrometheusText.value(metrics, "bff_upstream_connections_open") == 0
                }
                #expect(drained, "the service connection carrying the abandoned answer must close (fast path: \(fastAggregations))")
                let small = try await gateway.get("/bulk/1024")
                #expect(small.status == 200 && small.body.count == 1024)
            }
        }
    }

    @Test("a service that breaks off mid-answer ends the client's connection before the answer's length")
    func serviceBreaksOff() async throws {
        let upstream = try await ScriptedUpstream.start { _, _ in
            .init("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", "only part", closeAfter: true)
        }
        defer { Task { try? await upstream.shutdown() } }
        try await withGateway(Self.scriptedYAML(upstream)) { gateway in
            let answer = try await RawHTTP.send("GET /f/x HTTP/1.1\r\nHost: x\r\n\r\n", port: gateway.port)
            #expect(answer.status == 200)
            #expect(answer.body == "only part", "the client gets what came, then the close")
        }
    }

    @Test("a service slower than the proxy's timeout is a 504 problem with the request id, and its late answer never reaches the next request", arguments: [true, false])
    func headTimeout(fastAggregations: Bool) async throws {
        try await withStubs { stubs in
            let stub = stubs[0]
            stub.on("/late", body: #"{"late":true}"#, delay: .milliseconds(400))
            stub.on("/now", body: #"{"now":true}"#)
            let yaml = spec(service: stub, endpoints: """
                - route: GET /p/{rest*}
                  proxy: { service: svc, path: "/{rest}", timeout: 100ms }
                """)
            try await withGateway(yaml, fastAggregations: fastAggregations) { gateway in
                let late = try await gateway.get("/p/late", headers: [("X-Request-ID", "late-1")])
                #expect(late.status == 504)
                #expect(late.header("Content-Type") == "application/problem+json")
                #expect(late.text.contains(#""request_id":"late-1""#) && !late.text.contains("late\":true"))
                try await Task.sleep(for: .milliseconds(400))
                let now = try await gateway.get("/p/now")
                #expect(now.text == #"{"now":true}"#)
            }
        }
    }
}
