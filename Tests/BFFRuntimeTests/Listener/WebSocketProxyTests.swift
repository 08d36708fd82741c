import BFFRuntime
import BFFSpec
import Foundation
import NIOHTTP1
import Testing

extension ListenerProtocolTests {
    /// WebSocket proxying on `websocket: true` routes, with a real WebSocket service and client
    /// (Python's `websockets`, Tests/Scripts/edge_probe.py) on either side of the gateway.
    @Suite(.timeLimit(.minutes(2))) struct WebSocketProxyTests {
        static func withWebSocketGateway(_ body: @Sendable (TestGateway, _ stub: StubUpstream) async throws -> Void) async throws {
            let secretFile = TestTokens.file(TestTokens.secret)
            defer { try? FileManager.default.removeItem(atPath: secretFile) }
            let (echo, echoPort) = try await ListenerClients.startWebSocketEcho()
            defer { _ = echo.kill() }
            try await withStubs { stubs in
                stubs[0].on("/plain", body: #"{"ok":true}"#)
                let yaml = """
                    name: ws
                    auth:
                      jwt:
                        issuer: test-idp
                        audience: bff
                        keys: [{ kid: hs, alg: HS256, secret_file: \(secretFile) }]
                      forward_claims: { sub: X-User-Id }
                    cors: { origins: ["https://app.example.com"] }
                    services:
                      live: { url: "http://127.0.0.1:\(echoPort)", timeout: 5s, connect_timeout: 5s }
                      svc: { url: "\(stubs[0].url)", timeout: 5s }
                    endpoints:
                      - route: GET /ws/{rest*}
                        auth: jwt
                        proxy: { service: live, path: "/{path.rest}", websocket: { max_message: 2MiB, idle_timeout: 30s } }
                      - route: GET /idle/{rest*}
                        auth: none
                        proxy: { service: live, path: "/{path.rest}", websocket: { idle_timeout: 1s } }
                      - route: GET /api/{rest*}
                        auth: none
                        proxy: { service: svc, path: "/{path.rest}" }
                    """
                try await withGateway(yaml) { gateway in
                    try await body(gateway, stubs[0])
                }
            }
        }

        static var bearer: String { "Authorization: Bearer \(TestTokens.hs256(claims: TestTokens.claims(sub: "u1")))" }

        @Test("text, binary (1 MiB) and ping frames pass both ways through an authenticated route")
        func echo() async throws {
            try await Self.withWebSocketGateway { gateway, _ in
                let result = try await ListenerClients.probe("ws", ["--port", "\(gateway.port)", "--path", "/ws/echo", "--header", Self.bearer])
                #expect(result["status"] == 101, "\(result)")
                #expect(result["text"] == true && result["binary"] == true && result["pong"] == true, "\(result)")
            }
        }

        @Test("the service sees the handshake with the gateway's forwarding headers and the caller's claims")
        func forwardedHandshake() async throws {
            try await Self.withWebSocketGateway { gateway, _ in
                let result = try await ListenerClients.probe(
                    "ws", ["--port", "\(gateway.port)", "--path", "/ws/headers", "--header", Self.bearer, "--header", "X-User-Id: forged", "--hold", "--timeout", "0.5"]
                )
                #expect(result["status"] == 101, "\(result)")
                let headers = result["headers"]
                #expect(headers?["x-user-id"] == "u1", "\(result)")
                #expect(headers?["x-forwarded-for"] == "127.0.0.1")
                #expect(headers?["x-request-id"] != nil)
                #expect(headers?["x-real-ip"] == "127.0.0.1")
                #expect(headers?["authorization"] == nil, "the token the route checked stays at the gateway (forward_credentials is off)")
            }
        }

        @Test("the handshake is refused without a token (401) and from an origin cors does not allow (403)")
        func refusals() async throws {
            try await Self.withWebSocketGateway { gateway, _ in
                let anonymous = try await ListenerClients.probe("ws", ["--port", "\(gateway.port)", "--path", "/ws/echo"])
                #expect(anonymous["status"] == 401, "\(anonymous)")
                let stranger = try await ListenerClients.probe("ws", ["--port", "\(gateway.port)", "--path", "/ws/echo", "--header", Self.bearer, "--origin", "https://evil.example.com"])
                #expect(stranger["status"] == 403, "\(stranger)")
                let app = try await ListenerClients.probe("ws", ["--port", "\(gateway.port)", "--path", "/ws/echo", "--header", Self.bearer, "--origin", "https://app.example.com", "--size", "10"])
                #expect(app["status"] == 101 && app["binary"] == true, "\(app)")
            }
        }

        @Test("over a TLS listener (wss) frames pass the same")
        func overTLS() async throws {
            let pki = try TestPKI.make()
            defer { pki.remove() }
            let (echo, echoPort) = try await ListenerClients.startWebSocketEcho()
            defer { _ = echo.kill() }
            let yaml = """
                name: wss
                tls: { cert_file: \(pki.serverCertFile), key_file: \(pki.serverKeyFile) }
                services:
                  live: { url: "http://127.0.0.1:\(echoPort)", timeout: 5s, connect_timeout: 5s }
                endpoints:
                  - route: GET /ws/{rest*}
                    proxy: { service: live, path: "/{path.rest}", websocket: true }
                """
            try await withGateway(yaml) { gateway in
                let result = try await ListenerClients.probe("ws", ["--port", "\(gateway.port)", "--ca", pki.caFile, "--path", "/ws/echo"])
                #expect(result["status"] == 101 && result["text"] == true && result["binary"] == true && result["pong"] == true, "\(result)")
            }
        }

        @Test("a service that refuses the handshake is a 502 and nothing is switched")
        func serviceRefuses() async throws {
            try await Self.withWebSocketGateway { gateway, _ in
                let result = try await ListenerClients.probe("ws", ["--port", "\(gateway.port)", "--path", "/ws/refuse", "--header", Self.bearer])
                #expect(result["status"] == 502, "\(result)")
            }
        }

        @Test("a message over max_message closes the socket with 1009 and is never delivered")
        func messageTooBig() async throws {
            try await Self.withWebSocketGateway { gateway, _ in
                let result = try await ListenerClients.probe("ws", ["--port", "\(gateway.port)", "--path", "/ws/echo", "--header", Self.bearer, "--size", "\(3 * 1024 * 1024)"])
                #expect(result["binary"] == false, "\(result)")
                #expect(result["close_code"] == 1009, "\(result)")
            }
        }

        @Test("a socket with no frames for idle_timeout is closed with 1001")
        func idleTimeout() async throws {
            try await Self.withWebSocketGateway { gateway, _ in
                let result = try await ListenerClients.probe("ws", ["--port", "\(gateway.port)", "--path", "/idle/echo", "--hold", "--timeout", "10"])
                #expect(result["close_code"] == 1001, "\(result)")
                #expect((result["seconds"]?.numberValue ?? 99) < 5, "\(result)")
            }
        }

        @Test("on drain an open socket gets a close frame (1001) within the drain deadline")
        func closeOnDrain() async throws {
            try await Self.withWebSocketGateway { gateway, _ in
                async let held = ListenerClients.probe("ws", ["--port", "\(gateway.port)", "--path", "/ws/echo", "--header", Self.bearer, "--hold", "--timeout", "20"])
                try await Task.sleep(for: .seconds(1))
                await gateway.triggerGracefulShutdown()
                let result = try await held
                #expect(result["status"] == 101, "\(result)")
                #expect(result["close_code"] == 1001, "\(result)")
                #expect(result["close_reason"] == "server shutting down")
            }
        }

        @Test("a plain request to a WebSocket route is 426; an Upgrade to any other route is never forwarded")
        func upgradeOnlyWhereDeclared() async throws {
            try await Self.withWebSocketGateway { gateway, stub in
                let plain = try await ListenerClients.curl(["-H", Self.bearer], gateway.baseURL + "/ws/echo")
                #expect(plain.status == 426, "\(plain.body)")
                #expect(plain.headers["sec-websocket-version"] == "13")
                // An upgrade request, and a second request behind it on the same connection: the first
                // is answered as a plain request and the connection closed, since no request after an
                // upgrade request is read.
                let connection = try await RawConnection.open(port: gateway.port)
                try await connection.send(
                    "GET /api/plain HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
                        + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\nGET /api/plain HTTP/1.1\r\nHost: x\r\n\r\n"
                )
                let answers = try await connection.responsesUntilClosed(within: .seconds(10))
                #expect(answers.map(\.status) == [200], "\(answers.map(\.status))")
                let seen = try #require(stub.requests(to: "/plain").last)
                #expect(seen.headers["upgrade"].isEmpty && seen.headers["sec-websocket-key"].isEmpty == false)
            }
        }
    }
}
