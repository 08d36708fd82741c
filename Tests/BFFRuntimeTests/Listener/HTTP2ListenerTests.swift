import BFFRuntime
import BFFSpec
import Foundation
import NIOCore
import Testing

extension ListenerProtocolTests {
    /// HTTP/2 on the public listener: the same requests answered the same over HTTP/1.1 and HTTP/2
    /// (h2c with prior knowledge, and h2 over TLS), its limits, rapid-reset protection and drain.
    @Suite(.timeLimit(.minutes(2))) struct HTTP2ListenerTests {
        /// Every kind of route and refusal the matrix sends over both protocols.
        static func h2Spec(upstream: String, secretFile: String, extra: String = "") -> String {
            """
            name: h2
            http2:
              max_concurrent_streams: 32
              max_resets: 50
              reset_window: 10s
            \(extra)
            limits: { body: 1KiB, proxy_body: 20KiB, headers: 4KiB }
            auth:
              jwt:
                issuer: test-idp
                audience: bff
                keys: [{ kid: hs, alg: HS256, secret_file: \(secretFile) }]
            services:
              # Generous: under a loaded CI machine a slow answer must not turn into a 504 here.
              svc: { url: "\(upstream)", timeout: 10s, connect_timeout: 5s }
            endpoints:
              - route: GET /profile/{id}
                auth: none
                timeout: 20s
                calls:
                  user: { service: svc, path: "/users/{path.id}", required: true }
                  orders: { service: svc, path: "/orders/{path.id}" }
              - route: GET /slow-section/{id}
                auth: none
                calls:
                  user: { service: svc, path: "/users/{path.id}", required: true }
                  orders: { service: svc, path: /slow, timeout: 100ms, fallback: [] }
              - route: GET /me
                auth: jwt
                calls:
                  user: { service: svc, path: "/users/{auth.sub}", required: true }
              - route: GET /limited
                auth: none
                rate_limit: { key: ip, rate: 1/min, burst: 1 }
                calls:
                  user: { service: svc, path: /users/7, required: true }
              - route: "* /api/{rest*}"
                auth: none
                proxy: { service: svc, path: "/{path.rest}", timeout: 20s }
              - route: GET /drain
                auth: none
                timeout: 5s
                calls:
                  user: { service: svc, path: /drain, required: true, timeout: 5s }
            """
        }

        static func withH2Gateway(extra: String = "", _ body: @Sendable (TestGateway, StubUpstream) async throws -> Void) async throws {
            let secretFile = TestTokens.file(TestTokens.secret)
            defer { try? FileManager.default.removeItem(atPath: secretFile) }
            try await withStubs { stubs in
                stubs[0].on("/users/7", body: #"{"id":"7","name":"Ada"}"#)
                stubs[0].on("/users/u1", body: #"{"id":"u1","name":"Grace"}"#)
                stubs[0].on("/orders/7", body: #"[{"id":"o1"}]"#)
                stubs[0].on("/slow", body: "[]", delay: .seconds(2))
                stubs[0].on("/drain", body: #"{"drained":true}"#, delay: .seconds(1))
                try await withGateway(h2Spec(upstream: stubs[0].url, secretFile: secretFile, extra: extra)) { gateway in
                    try await body(gateway, stubs[0])
                }
            }
        }

        /// One request of the matrix: curl arguments (besides the protocol) and the path.
        struct Probe: Sendable, CustomStringConvertible {
            let name: String
            let arguments: [String]
            let path: String
            var description: String { name }
        }

        static let probes: [Probe] = [
            Probe(name: "aggregation", arguments: [], path: "/profile/7"),
            Probe(name: "degraded section", arguments: [], path: "/slow-section/7"),
            Probe(name: "no token", arguments: [], path: "/me"),
            Probe(name: "token", arguments: ["-H", "Authorization: Bearer \(TestTokens.hs256(claims: TestTokens.claims(sub: "u1")))"], path: "/me"),
            Probe(name: "unknown route", arguments: [], path: "/nowhere"),
            Probe(name: "proxied GET", arguments: [], path: "/api/users/7"),
            Probe(name: "proxied POST", arguments: ["--data-binary", String(repeating: "x", count: 10_000)], path: "/api/echo/body"),
            Probe(name: "aggregation body over limits.body", arguments: ["--data-binary", String(repeating: "x", count: 2000), "-X", "GET"], path: "/profile/7"),
            Probe(name: "aggregation chunked body over limits.body", arguments: ["-H", "Transfer-Encoding: chunked", "--data-binary", String(repeating: "x", count: 2000), "-X", "GET"], path: "/profile/7"),
            Probe(name: "proxied chunked POST over limits.proxy_body", arguments: ["-H", "Transfer-Encoding: chunked", "--data-binary", String(repeating: "x", count: 30_000)], path: "/api/echo/body"),
            Probe(name: "header block over limits.headers", arguments: ["-H", "X-Big: " + String(repeating: "b", count: 5000)], path: "/profile/7"),
            Probe(name: "request line over limits.request_line", arguments: [], path: "/profile/" + String(repeating: "x", count: 9000)),
        ]

        @Test("the same requests get the same answers over HTTP/1.1 and HTTP/2 with prior knowledge")
        func sameAnswersOnBothProtocols() async throws {
            try await Self.withH2Gateway { gateway, _ in
                for probe in Self.probes {
                    let http1 = try await ListenerClients.curl(["--http1.1"] + probe.arguments, gateway.baseURL + probe.path)
                    let http2 = try await ListenerClients.curl(["--http2-prior-knowledge"] + probe.arguments, gateway.baseURL + probe.path)
                    #expect(http1.version == "1.1" && http2.version == "2", "\(probe)")
                    #expect(http1.status == http2.status, "\(probe): \(http1.status) over HTTP/1.1, \(http2.status) over HTTP/2 \(http2.body)")
                    #expect(http1.headers["content-type"] == http2.headers["content-type"], "\(probe)")
                    #expect(http1.headers["x-bff-degraded"] == http2.headers["x-bff-degraded"], "\(probe)")
                    #expect(http2.headers["x-request-id"] != nil, "\(probe)")
                    #expect(http2.headers["x-content-type-options"] == "nosniff", "\(probe)")
                    if http1.headers["content-type"]?.hasPrefix("application/json") == true, probe.name != "proxied POST" {
                        let one = try http1.json(), two = try http2.json()
                        #expect(one["_meta"]?["degraded"] == two["_meta"]?["degraded"], "\(probe)")
                        #expect(one["user"] == two["user"], "\(probe)")
                    } else if probe.name == "proxied POST" {
                        #expect(http2.body == String(repeating: "x", count: 10_000))
                    } else {
                        let one = try http1.json(), two = try http2.json()
                        #expect(one["status"] == two["status"] && one["title"] == two["title"], "\(probe): \(http2.body)")
                    }
                }
                let statuses = try await Self.probes.asyncMap { try await ListenerClients.curl(["--http2-prior-knowledge"] + $0.arguments, gateway.baseURL + $0.path).status }
                #expect(statuses as [Int] == [200, 200, 401, 200, 404, 200, 200, 413, 413, 413, 431, 414])
                let first = try await ListenerClients.curl(["--http2-prior-knowledge"], gateway.baseURL + "/limited")
                let second = try await ListenerClients.curl(["--http1.1"], gateway.baseURL + "/limited")
                let third = try await ListenerClients.curl(["--http2-prior-knowledge"], gateway.baseURL + "/limited")
                #expect([first.status, second.status, third.status] as [Int] == [200, 429, 429], "one rate limit across both protocols")
            }
        }

        @Test("a plaintext connection that sends nothing is closed after idle_timeout; one over max_connections is refused, HTTP/2 too")
        func connectionLimits() async throws {
            try await withStubs { stubs in
                stubs[0].on("/slow", body: #"{"id":"7"}"#, delay: .seconds(2))
                let yaml = """
                    name: h2
                    http2: true
                    limits: { idle_timeout: 1s, max_connections: 1 }
                    services:
                      svc: { url: "\(stubs[0].url)", timeout: 10s }
                    endpoints:
                      - route: GET /slow
                        timeout: 10s
                        calls:
                          user: { service: svc, path: /slow, required: true }
                    """
                try await withGateway(yaml) { gateway in
                    let silent = try await RawConnection.open(port: gateway.port)
                    let start = ContinuousClock.now
                    _ = try await silent.responsesUntilClosed(within: .seconds(8))
                    #expect(ContinuousClock.now - start < .seconds(6), "a silent connection was held")
                    // One HTTP/2 connection holds the only slot while its stream is in flight.
                    async let first = ListenerClients.probe("drain", ["--port", "\(gateway.port)", "--path", "/slow"])
                    #expect(await eventually(within: .seconds(5)) { !stubs[0].requests(to: "/slow").isEmpty })
                    let refused = try ChildProcess(
                        executable: "/usr/bin/curl", arguments: ["-sS", "--max-time", "5", "--http2-prior-knowledge", gateway.baseURL + "/slow"],
                        standardOutput: .captured, standardError: .captured
                    )
                    #expect(await refused.exit() != .exited(0), "a second connection was served: \(refused.output)")
                    #expect(try await first["status"] == 200)
                }
            }
        }

        @Test("h2load gets every aggregation and proxied request answered over one connection's streams")
        func h2load() async throws {
            try await Self.withH2Gateway { gateway, _ in
                for path in ["/profile/7", "/api/users/7"] {
                    let load = try await ListenerClients.h2load(["-n", "400", "-c", "4", "-m", "8"], gateway.baseURL + path)
                    #expect(load.done == 400 && load.succeeded == 400 && load.failed == 0 && load.errored == 0, "\(path): \(load.output)")
                }
            }
        }

        @Test("the connection preface advertises max_concurrent_streams and a header list limit")
        func settings() async throws {
            try await Self.withH2Gateway { gateway, _ in
                let settings = try await ListenerClients.probe("settings", ["--port", "\(gateway.port)"])
                #expect(settings["max_concurrent_streams"] == 32, "\(settings)")
                #expect((settings["max_header_list_size"]?.numberValue ?? 0) >= 4096, "\(settings)")
            }
        }

        @Test("a client that opens and resets streams faster than max_resets is sent GOAWAY and cut off")
        func rapidReset() async throws {
            try await Self.withH2Gateway { gateway, _ in
                let attack = try await ListenerClients.probe("rapid-reset", ["--port", "\(gateway.port)", "--path", "/profile/7", "--streams", "500"])
                #expect(attack["goaway"] != nil && attack["goaway"] != .null, "no GOAWAY: \(attack)")
                #expect(attack["closed"] == true, "\(attack)")
                // The gateway serves on.
                let after = try await ListenerClients.curl(["--http2-prior-knowledge"], gateway.baseURL + "/profile/7")
                #expect(after.status == 200)
            }
        }

        @Test("a plaintext listener without http2 answers HTTP/1.1 only: no h2c by prior knowledge, no Upgrade")
        func plaintextWithoutHTTP2() async throws {
            try await withStubs { stubs in
                stubs[0].on("/users/7", body: #"{"id":"7"}"#)
                try await withGateway(spec(service: stubs[0], endpoints: "  - route: GET /u\n    calls:\n      user: { service: svc, path: /users/7 }")) { gateway in
                    let child = try ChildProcess(
                        executable: "/usr/bin/curl", arguments: ["-sS", "--max-time", "5", "--http2-prior-knowledge", gateway.baseURL + "/u"],
                        standardOutput: .captured, standardError: .captured
                    )
                    #expect(await child.exit() != .exited(0), "h2c was spoken: \(child.output)")
                    let upgrade = try await ListenerClients.curl(["--http2"], gateway.baseURL + "/u")
                    #expect(upgrade.version == "1.1" && upgrade.status == 200)
                }
            }
        }

        @Test("with http2: true an HTTP/1.1 Upgrade: h2c is not taken either")
        func noUpgradeToH2C() async throws {
            try await Self.withH2Gateway { gateway, _ in
                let upgrade = try await ListenerClients.curl(["--http2"], gateway.baseURL + "/profile/7")
                #expect(upgrade.version == "1.1" && upgrade.status == 200)
            }
        }

        @Test("graceful shutdown sends GOAWAY and the stream in flight still completes")
        func drainWithGoaway() async throws {
            try await Self.withH2Gateway { gateway, stub in
                async let inFlight = ListenerClients.probe("drain", ["--port", "\(gateway.port)", "--path", "/drain"])
                #expect(await eventually(within: .seconds(5)) { !stub.requests(to: "/drain").isEmpty })
                await gateway.triggerGracefulShutdown()
                let result = try await inFlight
                #expect(result["status"] == 200, "\(result)")
                #expect(result["ended"] == true, "\(result)")
                #expect(result["goaway_before_end"] == true, "\(result)")
            }
        }

        @Test("over TLS, ALPN negotiates h2 and the same routes answer")
        func h2OverTLS() async throws {
            let pki = try TestPKI.make()
            defer { pki.remove() }
            try await Self.withH2Gateway(extra: "tls: { cert_file: \(pki.serverCertFile), key_file: \(pki.serverKeyFile) }") { gateway, _ in
                let url = "https://127.0.0.1:\(gateway.port)"
                for probe in Self.probes.prefix(6) {
                    let answer = try await ListenerClients.curl(["--http2", "--cacert", pki.caFile] + probe.arguments, url + probe.path)
                    #expect(answer.version == "2", "\(probe)")
                    #expect(answer.headers["strict-transport-security"] != nil, "\(probe)")
                }
                let load = try await ListenerClients.h2load(["-n", "200", "-c", "2", "-m", "8"], url + "/profile/7")
                #expect(load.succeeded == 200 && load.failed == 0, "\(load.output)")
            }
        }
    }
}

extension Sequence where Element: Sendable {
    /// The results of `transform` on each element, in order, one at a time.
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var results: [T] = []
        for element in self { results.append(try await transform(element)) }
        return results
    }
}
