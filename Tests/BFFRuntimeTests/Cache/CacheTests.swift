import AsyncHTTPClient
import BFFRuntime
import BFFSpec
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Testing

/// Caches over real sockets: a gateway in front of stub services, driven by a real client.
@Suite("Cache: through the gateway", .timeLimit(.minutes(1)))
struct CacheTests {
    static func yaml(_ stub: StubUpstream, serviceTimeout: String = "5s", extra: String = "", endpoints: String) -> String {
        """
        name: cache-test
        services:
          svc: { url: "\(stub.url)", timeout: \(serviceTimeout) }
        \(extra)
        endpoints:
        \(endpoints)
        """
    }

    /// The `_meta` entry of `call` in an aggregated answer.
    func meta(_ response: TestResponse, _ call: String) throws -> JSONValue? {
        try response.json()["_meta"]?["calls"]?[call]
    }

    func metric(_ gateway: TestGateway, _ result: String) async throws -> Double {
        PrometheusText.value(try await gateway.admin("/metrics").text, "bff_cache_requests_total", ["result": result]) ?? 0
    }

    // MARK: Freshness

    @Test("a fresh answer is served from the cache with source cache; after its ttl the service is asked again")
    func ttlExpiry() async throws {
        try await withStubs { stubs in
            let stub = stubs[0]
            stub.on("/users/u1", body: #"{"id":"u1"}"#)
            let yaml = Self.yaml(stub, endpoints: """
                  - route: GET /page/{id}
                    timeout: 5s
                    calls:
                      user: { service: svc, path: "/users/{path.id}", cache: { ttl: 5s } }
                """)
            try await withGateway(yaml, adminListener: true) { gateway in
                let first = try await gateway.get("/page/u1")
                #expect(try meta(first, "user")?["source"] == nil)
                let second = try await gateway.get("/page/u1")
                #expect(second.status == 200)
                #expect(try second.json()["user"] == ["id": "u1"])
                #expect(try meta(second, "user")?["source"] == "cache")
                #expect(try meta(second, "user")?["status"] == "ok")
                #expect((try meta(second, "user")?["age_s"]?.numberValue ?? 99) <= 1, "ages are whole seconds; a busy machine may cross one")
                #expect(second.header("X-BFF-Degraded") == "false")
                #expect(stub.requests(to: "/users/u1").count == 1)

                try await Task.sleep(for: .milliseconds(5100))
                let third = try await gateway.get("/page/u1")
                #expect(try meta(third, "user")?["source"] == nil, "past its ttl the answer is fetched again")
                #expect(stub.requests(to: "/users/u1").count == 2)
                #expect(try await metric(gateway, "hit") == 1)
                #expect(try await metric(gateway, "miss") == 2)
                let bytes = PrometheusText.value(try await gateway.admin("/metrics").text, "bff_cache_bytes") ?? 0
                #expect(bytes > 0)
            }
        }
    }

    @Test("without a ttl the service's Cache-Control max-age decides; without one nothing is stored")
    func honoursUpstreamMaxAge() async throws {
        try await withStubs { stubs in
            let stub = stubs[0]
            stub.on("/a") { _ in StubResponse(.ok, #"{"a":1}"#, headers: [("Cache-Control", "public, max-age=60")]) }
            stub.on("/b", body: #"{"b":1}"#)
            let yaml = Self.yaml(stub, endpoints: """
                  - route: GET /page
                    timeout: 5s
                    calls:
                      a: { service: svc, path: /a, cache: { stale_if_error: 1m } }
                      b: { service: svc, path: /b, cache: { stale_if_error: 1m } }
                """)
            try await withGateway(yaml) { gateway in
                for _ in 0..<3 {
                    let response = try await gateway.get("/page")
                    #expect(response.status == 200)
                }
                #expect(stub.requests(to: "/a").count == 1)
                #expect(stub.requests(to: "/b").count == 3)
            }
        }
    }

    // MARK: Stale copies

    @Test("stale-if-error: when the service answers 503, the last good copy is served with its age, marked stale and degraded")
    func staleIfErrorOn503() async throws {
        try await withStubs { stubs in
            let stub = stubs[0]
            stub.on("/orders", body: #"[{"id":"o1"}]"#)
            let yaml = Self.yaml(stub, endpoints: """
                  - route: GET /page
                    timeout: 5s
                    calls:
                      orders: { service: svc, path: /orders, fallback: [], cache: { ttl: 200ms, stale_if_error: 10m } }
                """)
            try await withGateway(yaml, adminListener: true) { gateway in
                #expect(try await gateway.get("/page").status == 200)
                stub.on("/orders", .serviceUnavailable, body: #"{"error":"internal detail"}"#)
                try await Task.sleep(for: .milliseconds(1200))

                let stale = try await gateway.get("/page")
                #expect(stale.status == 200)
                #expect(try stale.json()["orders"] == [["id": "o1"]], "the last good copy, not the fallback")
                let entry = try #require(try meta(stale, "orders"))
                #expect(entry["status"] == "error")
                #expect(entry["http"] == 503)
                #expect(entry["source"] == "stale")
                #expect((entry["age_s"]?.numberValue ?? 0) >= 1, "about a second old")
                #expect(try stale.json()["_meta"]?["degraded"] == true)
                #expect(stale.header("X-BFF-Degraded") == "true")
                #expect(!stale.text.contains("internal detail"))
                #expect(stub.requests(to: "/orders").count == 2, "the service was asked, and failed")
                #expect(try await metric(gateway, "stale") == 1)
            }
        }
    }

    @Test("stale-if-error: a required call whose service is shut down is answered from the last good copy instead of a 502")
    func staleIfErrorServiceDown() async throws {
        let stub = try await StubUpstream.start()
        stub.on("/users/u1", body: #"{"id":"u1","name":"Ada"}"#)
        let yaml = Self.yaml(stub, endpoints: """
              - route: GET /page/{id}
                timeout: 5s
                calls:
                  user: { service: svc, path: "/users/{path.id}", required: true, cache: { ttl: 100ms, stale_if_error: 10m } }
                response:
                  name: { from: user.name }
            """)
        try await withGateway(yaml) { gateway in
            #expect(try await gateway.get("/page/u1").status == 200)
            try await stub.shutdown()
            try await Task.sleep(for: .milliseconds(200))
            let stale = try await gateway.get("/page/u1")
            #expect(stale.status == 200)
            #expect(try stale.json()["name"] == "Ada", "shaped from the stale copy")
            #expect(try meta(stale, "user")?["source"] == "stale")
            #expect(try meta(stale, "user")?["status"] == "error")
            #expect(try meta(stale, "user")?["age_s"] != nil)

            let other = try await gateway.get("/page/u2")
            #expect(other.status == 502, "nothing stored for u2: the required call fails as before")
        }
    }

    @Test("stale-while-revalidate: a just-stale answer is served at once while one background request refreshes it")
    func staleWhileRevalidate() async throws {
        try await withStubs { stubs in
            let stub = stubs[0]
            stub.on("/v", body: #"{"v":1}"#)
            let yaml = Self.yaml(stub, endpoints: """
                  - route: GET /page
                    timeout: 5s
                    calls:
                      v: { service: svc, path: /v, cache: { ttl: 200ms, stale_while_revalidate: 10s } }
                """)
            try await withGateway(yaml) { gateway in
                _ = try await gateway.get("/page")
                stub.on("/v", body: #"{"v":2}"#, delay: .seconds(4))
                try await Task.sleep(for: .milliseconds(300))

                let (served, ms) = try await timed { try await gateway.get("/page") }
                #expect(try served.json()["v"] == ["v": 1], "the stored answer, without waiting for the service")
                #expect(try meta(served, "v")?["status"] == "ok")
                #expect(try meta(served, "v")?["source"] == "cache")
                #expect(ms < 3500, "served before the refresh's answer came")
                #expect(await stub.eventually(within: .seconds(8)) { $0.requests(to: "/v").count == 2 && $0.requests.last?.respondedAt != nil })
                try await Task.sleep(for: .milliseconds(50))
                #expect(try await gateway.get("/page").json()["v"] == ["v": 2], "the refresh filled the cache")
                #expect(stub.requests(to: "/v").count == 2)
            }
        }
    }

    // MARK: Coalescing

    @Test("1,000 concurrent misses for one key make one upstream request, and every one gets its answer")
    func coalescingThousand() async throws {
        try await withStubs { stubs in
            let stub = stubs[0]
            stub.on("/hot", body: #"{"hot":true}"#, delay: .milliseconds(500))
            // One request whose handler fetches the call 1,000 times at once: 1,000 concurrent misses
            // through the real call path, without 1,000 client connections loading the other tests.
            let burst = SwiftEndpoint(
                "GET /burst",
                timeout: .seconds(20),
                calls: [SwiftCall("hot", service: "svc", path: "/hot", timeout: .seconds(10), cache: CacheSpec(ttl: .seconds(30)))]
            ) { context in
                let answers = try await withThrowingTaskGroup(of: JSONValue.self, returning: [JSONValue].self) { group in
                    for _ in 0..<1000 { group.addTask { try await context.fetch("hot") } }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                return ["same": .bool(answers.allSatisfy { $0 == ["hot": true] }), "count": .number(Double(answers.count))]
            }
            let yaml = Self.yaml(stub, endpoints: "  - route: GET /unused\n    proxy: { service: svc, path: /unused }")
            try await withGateway(yaml, swiftEndpoints: [burst], adminListener: true) { gateway in
                let response = try await gateway.get("/burst")
                #expect(try response.json()["same"] == true)
                #expect(try response.json()["count"] == 1000)
                #expect(stub.requests(to: "/hot").count == 1)
                #expect(try await metric(gateway, "miss") == 1)
                #expect(try await metric(gateway, "coalesced") == 999)
            }
        }
    }

    @Test("concurrent requests from many clients share one fetch too")
    func coalescingAcrossRequests() async throws {
        try await withStubs { stubs in
            let stub = stubs[0]
            stub.on("/hot", body: #"{"hot":true}"#, delay: .seconds(2))
            let yaml = Self.yaml(stub, serviceTimeout: "10s", endpoints: """
                  - route: GET /page
                    timeout: 20s
                    calls:
                      hot: { service: svc, path: /hot, cache: { ttl: 30s } }
                """)
            try await withGateway(yaml, adminListener: true) { gateway in
                let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
                var configuration = HTTPClient.Configuration()
                configuration.connectionPool = .init(idleTimeout: .seconds(30), concurrentHTTP1ConnectionsPerHostSoftLimit: 100)
                let client = HTTPClient(eventLoopGroupProvider: .shared(group), configuration: configuration)
                let answers = await withTaskGroup(of: Bool.self, returning: [Bool].self) { tasks in
                    for _ in 0..<100 {
                        tasks.addTask {
                            guard let response = try? await client.execute(HTTPClientRequest(url: gateway.baseURL + "/page"), timeout: .seconds(20)),
                                let body = try? await response.body.collect(upTo: 1 << 20)
                            else { return false }
                            return response.status == .ok && String(buffer: body).contains(#""hot":{"hot":true}"#)
                        }
                    }
                    return await tasks.reduce(into: []) { $0.append($1) }
                }
                try await client.shutdown()
                try await group.shutdownGracefully()
                #expect(answers.filter { $0 }.count == 100)
                #expect(stub.requests(to: "/hot").count == 1)
                #expect(try await metric(gateway, "miss") == 1)
                #expect(try await metric(gateway, "coalesced") == 99)
            }
        }
    }

    // MARK: Callers kept apart

    static func authYAML(_ stub: StubUpstream, endpoints: String) -> String {
        """
        name: cache-auth
        services:
          svc: { url: "\(stub.url)", timeout: 5s }
        auth:
          jwt:
            issuer: test-idp
            audience: bff
            keys:
              - { kid: hs, alg: HS256, secret_file: "\(TestTokens.file(TestTokens.secret))" }
          forward_claims: { sub: X-User-Id }
        endpoints:
        \(endpoints)
        """
    }

    static func bearer(_ sub: String) -> [(String, String)] {
        [("Authorization", "Bearer " + TestTokens.hs256(claims: TestTokens.claims(sub: sub)))]
    }

    @Test("two users on one route with the same upstream path never see each other's cached answer, at call or endpoint level")
    func noCrossUserLeak() async throws {
        try await withStubs { stubs in
            let stub = stubs[0]
            stub.on("/profile") { request in StubResponse(.ok, #"{"user":"\#(request.headers["x-user-id"].first ?? "?")"}"#) }
            stub.on("/catalogue", body: #"{"items":[]}"#)
            let yaml = Self.authYAML(stub, endpoints: """
                  - route: GET /me
                    timeout: 5s
                    auth: jwt
                    calls:
                      me: { service: svc, path: /profile, cache: { ttl: 30s } }
                  - route: GET /me-page
                    timeout: 5s
                    auth: jwt
                    cache: { ttl: 30s }
                    calls:
                      me: { service: svc, path: /profile }
                  - route: GET /catalogue
                    timeout: 5s
                    auth: jwt
                    calls:
                      items: { service: svc, path: /catalogue, cache: { ttl: 30s, shared: true } }
                """)
            try await withGateway(yaml) { gateway in
                for route in ["/me", "/me-page"] {
                    let before = stub.requests(to: "/profile").count
                    #expect(try await gateway.get(route, headers: Self.bearer("u1")).json()["me"] == ["user": "u1"])
                    #expect(try await gateway.get(route, headers: Self.bearer("u1")).json()["me"] == ["user": "u1"])
                    #expect(stub.requests(to: "/profile").count == before + 1, "u1's second request on \(route) was a hit")
                    #expect(try await gateway.get(route, headers: Self.bearer("u2")).json()["me"] == ["user": "u2"])
                    #expect(stub.requests(to: "/profile").count == before + 2, "u2 got its own answer on \(route)")
                    #expect(try await gateway.get(route, headers: Self.bearer("u1")).json()["me"] == ["user": "u1"])
                }
                _ = try await gateway.get("/catalogue", headers: Self.bearer("u1"))
                _ = try await gateway.get("/catalogue", headers: Self.bearer("u2"))
                #expect(stub.requests(to: "/catalogue").count == 1, "shared: one answer for everyone")
            }
        }
    }

    // MARK: Never stored

    @Test("never stored: Set-Cookie, private, no-store, 5xx and 404 answers, and requests with credentials unless shared")
    func neverStored() async throws {
        try await withStubs { stubs in
            let stub = stubs[0]
            stub.on("/cookie") { _ in StubResponse(.ok, "{}", headers: [("Set-Cookie", "session=s3cret")]) }
            stub.on("/private") { _ in StubResponse(.ok, "{}", headers: [("Cache-Control", "private, max-age=60")]) }
            stub.on("/nostore") { _ in StubResponse(.ok, "{}", headers: [("Cache-Control", "no-store")]) }
            stub.on("/fails", .internalServerError, body: "{}")
            stub.on("/missing", .notFound, body: "{}")
            stub.on("/open", body: "{}")
            stub.on("/forwarded", body: "{}")
            stub.on("/shared", body: "{}")
            let cache = "cache: { ttl: 30s, stale_if_error: 10m }"
            let yaml = Self.yaml(stub, endpoints: """
                  - route: GET /page
                    timeout: 5s
                    calls:
                      cookie: { service: svc, path: /cookie, \(cache) }
                      private: { service: svc, path: /private, \(cache) }
                      nostore: { service: svc, path: /nostore, \(cache) }
                      fails: { service: svc, path: /fails, \(cache) }
                      missing: { service: svc, path: /missing, \(cache) }
                      open: { service: svc, path: /open, \(cache) }
                  - route: GET /forwarding
                    timeout: 5s
                    calls:
                      forwarded: { service: svc, path: /forwarded, headers: { Authorization: "{header.authorization:none}" }, \(cache) }
                      shared: { service: svc, path: /shared, headers: { Authorization: "{header.authorization:none}" }, cache: { ttl: 30s, shared: true } }
                """)
            try await withGateway(yaml) { gateway in
                for _ in 0..<2 {
                    let response = try await gateway.get("/page")
                    #expect(response.status == 200)
                }
                for path in ["/cookie", "/private", "/nostore", "/fails", "/missing"] {
                    #expect(stub.requests(to: path).count == 2, "\(path) was stored")
                }
                #expect(stub.requests(to: "/open").count == 1, "a plain answer is stored")

                _ = try await gateway.get("/page", headers: [("Authorization", "Bearer whatever")])
                #expect(stub.requests(to: "/open").count == 2, "unverified credentials on a public route bypass the cache")
                _ = try await gateway.get("/page", headers: [("X-Api-Key", "k")])
                #expect(stub.requests(to: "/open").count == 3, "so does an API key header")

                for _ in 0..<2 { _ = try await gateway.get("/forwarding") }
                #expect(stub.requests(to: "/forwarded").count == 2, "a request to the service carrying Authorization is not stored")
                #expect(stub.requests(to: "/shared").count == 1, "unless the cache is shared")
            }
        }
    }

    // MARK: Vary

    @Test("answers vary by the request headers their Vary names")
    func vary() async throws {
        try await withStubs { stubs in
            let stub = stubs[0]
            stub.on("/greeting") { request in
                let language = request.headers["accept-language"].first ?? "en"
                return StubResponse(.ok, #"{"lang":"\#(language)"}"#, headers: [("Vary", "Accept-Language")])
            }
            let yaml = Self.yaml(stub, endpoints: """
                  - route: GET /hello
                    timeout: 5s
                    calls:
                      greeting: { service: svc, path: /greeting, headers: { Accept-Language: "{header.accept-language:en}" }, cache: { ttl: 30s } }
                """)
            try await withGateway(yaml) { gateway in
                for language in ["de", "fr", "de", "fr"] {
                    let response = try await gateway.get("/hello", headers: [("Accept-Language", language)])
                    #expect(try response.json()["greeting"] == ["lang": .string(language)])
                }
                #expect(stub.requests(to: "/greeting").count == 2)
            }
        }
    }

    // MARK: ETag

    @Test("aggregated answers carry an ETag; If-None-Match (one tag, a list, or *) gets 304 with no body and the report headers")
    func entityTags() async throws {
        try await withStubs { stubs in
            let stub = stubs[0]
            stub.on("/users/u1", body: #"{"id":"u1"}"#)
            let yaml = Self.yaml(stub, endpoints: """
                  - route: GET /page/{id}
                    timeout: 5s
                    calls:
                      user: { service: svc, path: "/users/{path.id}" }
                """)
            try await withGateway(yaml) { gateway in
                let first = try await gateway.get("/page/u1")
                let tag = try #require(first.header("ETag"))
                #expect(tag.hasPrefix("W/\""))
                #expect(first.header("Cache-Control") == "private, no-cache")

                for condition in [tag, #""nope", \#(tag)"#, "*", String(tag.dropFirst(2))] {
                    let revalidated = try await gateway.get("/page/u1", headers: [("If-None-Match", condition)])
                    #expect(revalidated.status == 304, "If-None-Match: \(condition)")
                    #expect(revalidated.body.isEmpty)
                    #expect(revalidated.header("ETag") == tag)
                    #expect(revalidated.header("X-BFF-Degraded") == "false")
                    #expect(revalidated.header("Server-Timing")?.hasPrefix("user;dur=") == true)
                }
                #expect(stub.requests(to: "/users/u1").count == 5, "no endpoint cache: each revalidation still composed the page")

                #expect(try await gateway.get("/page/u1", headers: [("If-None-Match", #""nope""#)]).status == 200)
                stub.on("/users/u1", body: #"{"id":"u1","v":2}"#)
                let changed = try await gateway.get("/page/u1", headers: [("If-None-Match", tag)])
                #expect(changed.status == 200, "new data, new tag")
                #expect(changed.header("ETag") != tag)
            }
        }
    }

    @Test("an endpoint cache serves the composed body byte for byte with its ETag and Age; degraded bodies are not kept")
    func endpointCache() async throws {
        try await withStubs { stubs in
            let stub = stubs[0]
            stub.on("/a", body: #"{"a":1}"#)
            stub.on("/b", body: #"{"b":1}"#)
            let yaml = Self.yaml(stub, endpoints: """
                  - route: GET /page
                    timeout: 5s
                    cache: { ttl: 30s }
                    calls:
                      a: { service: svc, path: "/a?v={query.v:0}" }
                  - route: GET /flaky
                    timeout: 5s
                    cache: { ttl: 30s }
                    calls:
                      b: { service: svc, path: /b, fallback: {} }
                """)
            try await withGateway(yaml, adminListener: true) { gateway in
                let first = try await gateway.get("/page?v=1&utm=x")
                let hit = try await gateway.get("/page?utm=y&v=1")
                #expect(hit.body == first.body, "unread query parameters do not split the key")
                #expect(hit.header("ETag") == first.header("ETag"))
                #expect(hit.header("Age") == "0")
                #expect(hit.header("Server-Timing") == #"cache;desc="hit""#)
                #expect(stub.requests(to: "/a").count == 1)
                let notModified = try await gateway.get("/page?v=1", headers: [("If-None-Match", try #require(first.header("ETag")))])
                #expect(notModified.status == 304)
                _ = try await gateway.get("/page?v=2")
                #expect(stub.requests(to: "/a").count == 2, "a query value a template reads is part of the key")

                stub.on("/b", .serviceUnavailable, body: "{}")
                _ = try await gateway.get("/flaky")
                stub.on("/b", body: #"{"b":1}"#)
                #expect(try await gateway.get("/flaky").header("X-BFF-Degraded") == "false")
                #expect(stub.requests(to: "/b").count == 2, "the degraded body was not kept")
            }
        }
    }

    // MARK: Memory and purge

    @Test("through the gateway, a key space twenty times what the store holds keeps it within cache_store.max_bytes")
    func boundedMemory() async throws {
        try await withStubs { stubs in
            let stub = stubs[0]
            stub.on("/items/*", body: #"{"payload":"\#(String(repeating: "x", count: 500))"}"#)
            let yaml = Self.yaml(stub, extra: "cache_store: { max_bytes: 16KiB }", endpoints: """
                  - route: GET /item/{id}
                    timeout: 5s
                    calls:
                      item: { service: svc, path: "/items/{path.id}", cache: { ttl: 10m } }
                """)
            try await withGateway(yaml, adminListener: true) { gateway in
                var peak = 0.0
                for i in 0..<500 {
                    let response = try await gateway.get("/item/\(i)")
                    #expect(response.status == 200)
                    if i % 50 == 49 {
                        peak = max(peak, PrometheusText.value(try await gateway.admin("/metrics").text, "bff_cache_bytes") ?? 0)
                    }
                }
                #expect(peak > 12 * 1024, "the store filled")
                #expect(peak <= 16 * 1024)
                _ = try await gateway.get("/item/499")
                #expect(stub.requests(to: "/items/499").count == 1, "the newest entries stay")
                _ = try await gateway.get("/item/0")
                #expect(stub.requests(to: "/items/0").count == 2, "the oldest were evicted")
            }
        }
    }

    @Test("POST /admin/cache/purge?prefix= drops the matching entries and says how many; the next request refetches")
    func purge() async throws {
        try await withStubs { stubs in
            let stub = stubs[0]
            stub.on("/users/*", body: #"{"id":"u"}"#)
            let yaml = Self.yaml(stub, endpoints: """
                  - route: GET /page/{id}
                    timeout: 5s
                    calls:
                      user: { service: svc, path: "/users/{path.id}", cache: { ttl: 10m } }
                """)
            try await withGateway(yaml, adminListener: true) { gateway in
                for id in ["1", "2", "10"] { _ = try await gateway.get("/page/\(id)") }
                let purged = try await gateway.admin("/admin/cache/purge?prefix=call+svc+GET+/users/1+%7C", method: .POST)
                #expect(purged.status == 200)
                #expect(purged.header("Content-Type") == "application/json")
                #expect(purged.text == #"{"purged":1}"#)
                for id in ["1", "2", "10"] { _ = try await gateway.get("/page/\(id)") }
                #expect(stub.requests(to: "/users/1").count == 2)
                #expect(stub.requests(to: "/users/2").count == 1)
                #expect(stub.requests(to: "/users/10").count == 1)

                #expect(try await gateway.admin("/admin/cache/purge?prefix=call%20svc%20", method: .POST).text == #"{"purged":3}"#)
                let missing = try await gateway.admin("/admin/cache/purge", method: .POST)
                #expect(missing.status == 400)
                #expect(missing.text.contains("prefix="))
                #expect(try await gateway.admin("/admin/cache/purge?prefix=x").status != 200, "purging takes a POST")
            }
        }
    }

    // MARK: Swift endpoints

    @Test("a Swift-declared call with a cache is served from it too")
    func swiftEndpointCall() async throws {
        try await withStubs { stubs in
            let stub = stubs[0]
            stub.on("/products/p1", body: #"{"id":"p1"}"#)
            let endpoint = SwiftEndpoint(
                "GET /swift/{id}",
                timeout: .seconds(5),
                calls: [SwiftCall("product", service: "svc", path: "/products/{path.id}", cache: CacheSpec(ttl: .seconds(30)))]
            ) { context in
                ["product": try await context.fetch("product")]
            }
            let yaml = Self.yaml(stub, endpoints: "  - route: GET /unused\n    proxy: { service: svc, path: /unused }")
            try await withGateway(yaml, swiftEndpoints: [endpoint]) { gateway in
                let first = try await gateway.get("/swift/p1")
                let second = try await gateway.get("/swift/p1")
                #expect(try second.json()["product"] == ["id": "p1"])
                #expect(try meta(second, "product")?["source"] == "cache")
                #expect(stub.requests(to: "/products/p1").count == 1)
                let tag = try #require(first.header("ETag"))
                #expect(try await gateway.get("/swift/p1", headers: [("If-None-Match", tag)]).status == 304)
            }
        }
    }
}
