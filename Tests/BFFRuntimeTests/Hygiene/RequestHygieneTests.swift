import BFFRuntime
import BFFSpec
import Foundation
import NIOHTTP1
import Testing

/// Requests refused at the connection, before routing: each answered with a problem+json and
/// `Connection: close`, the connection closed, and nothing forwarded upstream.
@Suite("Request hygiene at the edge", .timeLimit(.minutes(1)))
struct RequestHygieneTests {
    static func endpoints() -> String {
        """
        - route: "* /api/{rest*}"
          proxy: { service: svc, path: "/r/{rest}" }
        """
    }

    /// Sends `request` on a fresh connection and returns the one response before the server closed it.
    static func refused(_ request: [UInt8], port: Int) async throws -> ParsedResponse {
        let connection = try await RawConnection.open(port: port)
        try await connection.send(request)
        let responses = try await connection.responsesUntilClosed()
        try #require(responses.count == 1)
        return responses[0]
    }

    static func refused(_ request: String, port: Int) async throws -> ParsedResponse {
        try await refused(Array(request.utf8), port: port)
    }

    static func expectProblem(_ response: ParsedResponse, _ status: Int, sourceLocation: Testing.SourceLocation = #_sourceLocation) throws {
        #expect(response.status == status, sourceLocation: sourceLocation)
        #expect(response.header("Content-Type") == "application/problem+json", sourceLocation: sourceLocation)
        #expect(response.header("Connection") == "close", sourceLocation: sourceLocation)
        let json = try response.json()
        #expect(json["status"] == .number(Double(status)), sourceLocation: sourceLocation)
        #expect(json["type"] == "about:blank", sourceLocation: sourceLocation)
        let requestID = try #require(response.header("X-Request-ID"), "no request id", sourceLocation: sourceLocation)
        #expect(json["request_id"] == .string(requestID), sourceLocation: sourceLocation)
    }

    @Test("a request line over the limit is 414, headers over the byte or field limit are 431")
    func sizeLimits() async throws {
        try await withStubs { stubs in
            let stub = stubs[0]
            try await withGateway(spec(service: stub, endpoints: Self.endpoints())) { gateway in
                let longTarget = "/api/" + String(repeating: "a", count: 8 * 1024)
                let uriTooLong = try await Self.refused("GET \(longTarget) HTTP/1.1\r\nHost: g\r\n\r\n", port: gateway.port)
                try Self.expectProblem(uriTooLong, 414)

                let bigHeader = "X-Big: " + String(repeating: "b", count: 33 * 1024) + "\r\n"
                let tooLarge = try await Self.refused("GET /api/x HTTP/1.1\r\nHost: g\r\n\(bigHeader)\r\n", port: gateway.port)
                try Self.expectProblem(tooLarge, 431)

                let manyFields = (0..<101).map { "X-F\($0): v\r\n" }.joined()
                let tooMany = try await Self.refused("GET /api/x HTTP/1.1\r\nHost: g\r\n\(manyFields)\r\n", port: gateway.port)
                try Self.expectProblem(tooMany, 431)

                // Just inside every limit is served.
                let fields = (0..<97).map { "X-F\($0): v\r\n" }.joined()
                let target = "/api/" + String(repeating: "a", count: 8 * 1024 - 20)
                stub.on("/r/*", body: "{}")
                let fine = try await RawHTTP.send("GET \(target) HTTP/1.1\r\nHost: g\r\n\(fields)Connection: close\r\n\r\n", port: gateway.port)
                #expect(fine.status == 200)
                #expect(stub.requests.count == 1)
            }
        }
    }

    @Test(
        "ambiguous framing, obs-fold and control characters are 400 and never forwarded",
        arguments: [
            ("CL+TE", "POST /api/x HTTP/1.1\r\nHost: g\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
            ("differing CL", "POST /api/x HTTP/1.1\r\nHost: g\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"),
            ("repeated CL", "POST /api/x HTTP/1.1\r\nHost: g\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello"),
            ("CL list", "POST /api/x HTTP/1.1\r\nHost: g\r\nContent-Length: 5, 5\r\n\r\nhello"),
            ("TE not chunked", "POST /api/x HTTP/1.1\r\nHost: g\r\nTransfer-Encoding: gzip\r\n\r\n"),
            ("obs-fold", "GET /api/x HTTP/1.1\r\nHost: g\r\nX-A: one\r\n two\r\n\r\n"),
            ("obs-fold tab", "GET /api/x HTTP/1.1\r\nHost: g\r\nX-A: one\r\n\ttwo\r\n\r\n"),
            ("NUL in value", "GET /api/x HTTP/1.1\r\nHost: g\r\nX-A: a\u{0}b\r\n\r\n"),
            ("bare CR in value", "GET /api/x HTTP/1.1\r\nHost: g\r\nX-A: a\rb\r\n\r\n"),
            ("DEL in value", "GET /api/x HTTP/1.1\r\nHost: g\r\nX-A: a\u{7F}b\r\n\r\n"),
            ("NUL in target", "GET /api/x\u{0}y HTTP/1.1\r\nHost: g\r\n\r\n"),
            ("DEL in target", "GET /api/x\u{7F}y HTTP/1.1\r\nHost: g\r\n\r\n"),
            ("space in name", "GET /api/x HTTP/1.1\r\nHost: g\r\nX-A : v\r\n\r\n"),
            ("bare LF", "GET /api/x HTTP/1.1\nHost: g\n\n"),
            ("duplicate Host", "GET /api/x HTTP/1.1\r\nHost: g\r\nHost: h\r\n\r\n"),
            ("duplicate Authorization", "GET /api/x HTTP/1.1\r\nHost: g\r\nAuthorization: Bearer a\r\nAuthorization: Bearer b\r\n\r\n"),
            ("duplicate X-Api-Key", "GET /api/x HTTP/1.1\r\nHost: g\r\nX-Api-Key: a\r\nx-api-key: b\r\n\r\n"),
            ("two spaces after the method", "GET  /api/x HTTP/1.1\r\nHost: g\r\n\r\n"),
            ("two spaces before the version", "GET /api/x  HTTP/1.1\r\nHost: g\r\n\r\n"),
            ("four parts", "GET /api/x y HTTP/1.1\r\nHost: g\r\n\r\n"),
            ("two parts", "GET /api/x\r\nHost: g\r\n\r\n"),
            ("no version", "GET /api/x \r\nHost: g\r\n\r\n"),
            ("method not a token", "G@T /api/x HTTP/1.1\r\nHost: g\r\n\r\n"),
            ("unknown version", "GET /api/x HTTP/2.0\r\nHost: g\r\n\r\n"),
            ("empty target", "GET  HTTP/1.1\r\nHost: g\r\n\r\n"),
            ("empty method", " /api/x HTTP/1.1\r\nHost: g\r\n\r\n"),
        ]
    )
    func malformedHeads(name: String, request: String) async throws {
        try await withStubs { stubs in
            let stub = stubs[0]
            stub.on("/r/*", body: "{}")
            try await withGateway(spec(service: stub, endpoints: Self.endpoints())) { gateway in
                let response = try await Self.refused(request, port: gateway.port)
                try Self.expectProblem(response, 400)
                #expect(stub.requests.isEmpty, "\(name) reached the upstream")
            }
        }
    }

    @Test("a bad request pipelined after a good one is answered after it, then the connection closes")
    func pipelinedRefusal() async throws {
        try await withStubs { stubs in
            let stub = stubs[0]
            stub.on("/r/*", body: #"{"ok":true}"#)
            try await withGateway(spec(service: stub, endpoints: Self.endpoints())) { gateway in
                let connection = try await RawConnection.open(port: gateway.port)
                try await connection.send(
                    "POST /api/one HTTP/1.1\r\nHost: g\r\nContent-Length: 5\r\n\r\nhello"
                        + "GET /api/two HTTP/1.1\r\nHost: g\r\nX-A: one\r\n two\r\n\r\n"
                )
                let responses = try await connection.responsesUntilClosed()
                #expect(responses.map(\.status) == [200, 400])
                #expect(stub.requests.map(\.path) == ["/r/one"])
            }
        }
    }

    @Test("a Content-Length above the largest body any route accepts is 413 before the body is sent")
    func contentLengthCap() async throws {
        try await withStubs { stubs in
            let stub = stubs[0]
            try await withGateway("limits: { proxy_body: 1000, body: 1000 }\n" + spec(service: stub, endpoints: Self.endpoints())) { gateway in
                let response = try await Self.refused("POST /api/x HTTP/1.1\r\nHost: g\r\nContent-Length: 1001\r\n\r\n", port: gateway.port)
                try Self.expectProblem(response, 413)
                #expect(stub.requests.isEmpty)
            }
        }
    }

    @Test("a head dribbled byte by byte is cut at the header timeout while an idle keep-alive connection stays")
    func slowlorisIsCut() async throws {
        try await withStubs { stubs in
            let stub = stubs[0]
            stub.on("/r/*", body: "{}")
            try await withGateway("limits: { header_timeout: 1s }\n" + spec(service: stub, endpoints: Self.endpoints())) { gateway in
                let idle = try await RawConnection.open(port: gateway.port)
                try await idle.send("GET /api/first HTTP/1.1\r\nHost: g\r\n\r\n")
                #expect(try await idle.responses(1).map(\.status) == [200])

                // Six seconds of head at one byte per 100 ms, far beyond the one-second deadline.
                let head = Array("GET /api/slow HTTP/1.1\r\nHost: g\r\nX-Padding: \(String(repeating: "p", count: 30))\r\n\r\n".utf8)
                let slow = try await RawConnection.open(port: gateway.port)
                let clock = ContinuousClock()
                let start = clock.now
                for byte in head {
                    if slow.isClosed { break }
                    try? await slow.send([byte])
                    try await Task.sleep(for: .milliseconds(100))
                }
                let cut = try await slow.responsesUntilClosed()
                #expect(clock.now - start < .seconds(4))
                #expect(cut.map(\.status) == [408])
                #expect(stub.requests(to: "/r/slow").isEmpty)

                // The idle connection outlived the slow one's whole deadline and still serves.
                #expect(!idle.isClosed)
                try await idle.send("GET /api/second HTTP/1.1\r\nHost: g\r\n\r\n")
                #expect(try await idle.responses(2).map(\.status) == [200, 200])
                await idle.close()
            }
        }
    }

    @Test("beyond max connections a new connection gets 503 and is closed; a freed slot serves again")
    func connectionLimit() async throws {
        try await withStubs { stubs in
            let stub = stubs[0]
            stub.on("/r/*", body: "{}")
            try await withGateway("limits: { max_connections: 2 }\n" + spec(service: stub, endpoints: Self.endpoints())) { gateway in
                var held: [RawConnection] = []
                for _ in 0..<2 {
                    let connection = try await RawConnection.open(port: gateway.port)
                    try await connection.send("GET /api/held HTTP/1.1\r\nHost: g\r\n\r\n")
                    #expect(try await connection.responses(1).map(\.status) == [200])
                    held.append(connection)
                }
                let third = try await Self.refused("GET /api/third HTTP/1.1\r\nHost: g\r\n\r\n", port: gateway.port)
                try Self.expectProblem(third, 503)
                #expect(stub.requests(to: "/r/third").isEmpty)

                await held[0].close()
                var served = false
                for _ in 0..<100 where !served {
                    let response = try await RawHTTP.send("GET /api/again HTTP/1.1\r\nHost: g\r\nConnection: close\r\n\r\n", port: gateway.port)
                    served = response.status == 200
                    if !served { try await Task.sleep(for: .milliseconds(20)) }
                }
                #expect(served)
                await held[1].close()
            }
        }
    }

    @Test("client-sent internal, identity and forwarding headers never reach the upstream as sent")
    func internalHeadersAreStripped() async throws {
        try await withStubs { stubs in
            let stub = stubs[0]
            stub.on("/r/*", body: "{}")
            try await withGateway(spec(service: stub, endpoints: Self.endpoints())) { gateway in
                let response = try await RawHTTP.send(
                    "GET /api/h HTTP/1.1\r\nHost: g\r\n"
                        + "X-Original-URL: /admin\r\nX-Rewrite-URL: /admin\r\nX-HTTP-Method-Override: DELETE\r\n"
                        + "X-User-Id: admin\r\nX-User-Role: root\r\nX-BFF-Anything: 1\r\n"
                        + "X-Forwarded-For: 1.2.3.4\r\nX-Forwarded-Host: evil\r\nForwarded: for=1.2.3.4\r\n"
                        + "Proxy-Authorization: Basic x\r\nX-Named: 1\r\nX-Kept: yes\r\n"
                        + "Connection: X-Request-ID, x-named, close\r\n\r\n",
                    port: gateway.port
                )
                #expect(response.status == 200)
                let seen = try #require(stub.requests.first)
                for name in ["x-original-url", "x-rewrite-url", "x-http-method-override", "x-user-id", "x-user-role", "x-bff-anything",
                    "x-forwarded-host", "forwarded", "proxy-authorization", "x-named"]
                {
                    #expect(!seen.headers.contains(name: name), "\(name) reached the upstream")
                }
                #expect(seen.headers["x-forwarded-for"] == ["127.0.0.1"])
                #expect(seen.headers["x-real-ip"] == ["127.0.0.1"])
                #expect(seen.headers["x-kept"] == ["yes"])
                #expect(seen.headers["x-request-id"].count == 1)
                #expect(response.header("X-Request-ID") == seen.headers["x-request-id"].first)
            }
        }
    }

    @Test("forwarding headers from a trusted proxy are kept")
    func trustedProxyForwardingKept() async throws {
        try await withStubs { stubs in
            let stub = stubs[0]
            stub.on("/r/*", body: "{}")
            try await withGateway("trusted_proxies: [127.0.0.0/8]\n" + spec(service: stub, endpoints: Self.endpoints())) { gateway in
                let response = try await RawHTTP.send(
                    "GET /api/h HTTP/1.1\r\nHost: g\r\nX-Forwarded-For: 203.0.113.9\r\nX-User-Id: admin\r\nConnection: close\r\n\r\n",
                    port: gateway.port
                )
                #expect(response.status == 200)
                let seen = try #require(stub.requests.first)
                #expect(seen.headers["x-forwarded-for"] == ["203.0.113.9, 127.0.0.1"])
                #expect(!seen.headers.contains(name: "x-user-id"))
            }
        }
    }
}
