import BFFSpec
import Testing

/// Loading `cache:` on calls and endpoints and `cache_store:`, and every way they fail to load,
/// each at its file:line. Endpoint text starts at line 7 (after ``SpecFixtures/header``).
@Suite("SpecLoader: caches")
struct CacheSpecTests {
    func only(_ text: String, in diagnostics: [SpecDiagnostic]) throws -> SpecDiagnostic {
        let matching = diagnostics.filter { $0.message.contains(text) }
        #expect(matching.count == 1, "expected one diagnostic containing \"\(text)\" in \(diagnostics.map(\.description))")
        return try #require(matching.first)
    }

    @Test("call and endpoint caches and the store are read with their values; defaults fill the rest")
    func readsEverything() throws {
        let spec = try SpecLoader.load(
            yaml: """
                name: test
                cache_store: { max_bytes: 8MiB }
                services:
                  users: { url: http://127.0.0.1:9001 }
                endpoints:
                  - route: GET /a/{id}
                    cache: { ttl: 5s, shared: true }
                    calls:
                      user: { service: users, path: "/users/{path.id}", cache: { ttl: 30s, stale_if_error: 10m, stale_while_revalidate: 5s } }
                      plain: { service: users, path: "/plain" }
                      honour: { service: users, path: "/honour", cache: { stale_if_error: 1m } }
                """,
            file: "cache.yaml"
        )
        #expect(spec.cacheStore.maxBytes == 8 << 20)
        let endpoint = try #require(spec.endpoints.first)
        #expect(endpoint.cache?.ttl == .seconds(5))
        #expect(endpoint.cache?.shared == true)
        #expect(endpoint.cache?.location.line == 7)
        let calls = try #require(endpoint.aggregate?.calls)
        let user = try #require(calls[0].cache)
        #expect(user.ttl == .seconds(30) && user.staleIfError == .seconds(600) && user.staleWhileRevalidate == .seconds(5))
        #expect(user.shared == false)
        #expect(calls[1].cache == nil)
        let honour = try #require(calls[2].cache)
        #expect(honour.ttl == nil, "no ttl: the service's Cache-Control max-age decides")
        #expect(honour.staleIfError == .seconds(60) && honour.staleWhileRevalidate == .zero)
    }

    @Test("without cache_store the store holds 64 MiB")
    func defaultStore() throws {
        let spec = try SpecLoader.load(yaml: SpecFixtures.header + "  - route: GET /a\n    proxy: { service: users, path: /a }\n", file: "cache.yaml")
        #expect(spec.cacheStore.maxBytes == 64 << 20)
    }

    @Test("cache_store.redis keeps answers in a Redis the replicas share, each call bounded by timeout; without it they stay in the process")
    func redisStore() throws {
        let proxy = "  - route: GET /a\n    proxy: { service: users, path: /a }\n"
        let shared = try SpecLoader.load(
            yaml: "cache_store: { redis: redis://127.0.0.1:6390/2, max_bytes: 16MiB, timeout: 50ms }\n" + SpecFixtures.header + proxy, file: "cache.yaml"
        )
        #expect(shared.cacheStore.redis == RedisURL(host: "127.0.0.1", port: 6390, database: 2))
        #expect(shared.cacheStore.maxBytes == 16 << 20)
        #expect(shared.cacheStore.timeout == .milliseconds(50))
        let local = try SpecLoader.load(yaml: SpecFixtures.header + proxy, file: "cache.yaml")
        #expect(local.cacheStore.redis == nil)
        #expect(local.cacheStore.timeout == .milliseconds(200), "the rate limiter's bound on a Redis call")
    }

    @Test("a cache_store.redis that is not a redis:// URL is a load error at its file:line, saying what to write", arguments: [
        "http://127.0.0.1:6379", "redis://user:pw@host:6379", "redis://host:99999", "redis://host/x", "memory",
    ])
    func badRedisURL(_ text: String) throws {
        let diagnostics = SpecFixtures.diagnostics(
            "name: test\ncache_store:\n  redis: \"\(text)\"\nservices:\n  users: { url: http://127.0.0.1:9001 }\nendpoints:\n  - route: GET /a\n    proxy: { service: users, path: /a }\n"
        )
        let bad = try only("cache_store.redis '\(text)' is not a redis:// URL", in: diagnostics)
        #expect(bad.description.hasPrefix("test.yaml:3:"))
        #expect(bad.hint == "write e.g. redis://127.0.0.1:6379/0 (password from BFF_REDIS_PASSWORD)")
        #expect(diagnostics.count == 1)
    }

    @Test("unknown keys in a call cache, an endpoint cache and cache_store are reported where written, with the key meant")
    func unknownKeys() throws {
        let diagnostics = SpecFixtures.diagnostics(
            """
            name: test
            cache_store: { max_byte: 1MiB }
            services:
              users: { url: http://127.0.0.1:9001 }
            endpoints:
              - route: GET /a
                cache: { ttl: 5s, stale_if_error: 1m }
                calls:
                  user: { service: users, path: /u, cache: { ttl: 5s, stale_if_eror: 1m } }
            """
        )
        let store = try only("unknown key 'max_byte'", in: diagnostics)
        #expect(store.location.line == 2)
        #expect(store.message.contains("cache_store"))
        #expect(store.hint == "did you mean 'max_bytes'?")
        let endpoint = try only("unknown key 'stale_if_error'", in: diagnostics)
        #expect(endpoint.location.line == 7)
        #expect(endpoint.message.contains("cache of the endpoint"))
        let call = try only("unknown key 'stale_if_eror'", in: diagnostics)
        #expect(call.location.line == 9)
        #expect(call.message.contains("cache of call 'user'"))
        #expect(call.hint == "did you mean 'stale_if_error'?")
    }

    @Test("a zero ttl says it must be longer than zero and how to honour the service instead; bad durations and sizes are named")
    func badValues() throws {
        let diagnostics = SpecFixtures.diagnostics(
            endpoints: """
                  - route: GET /a
                    calls:
                      zero: { service: users, path: /z, cache: { ttl: 0s } }
                      bad: { service: users, path: /b, cache: { ttl: soon, stale_while_revalidate: 0 } }
                      shared: { service: users, path: /s, cache: { ttl: 1s, shared: maybe } }
                """
        )
        let zero = try only("ttl in the cache of call 'zero' must be longer than zero", in: diagnostics)
        #expect(zero.location.line == 9)
        #expect(zero.hint?.contains("leave ttl out to honour the service's Cache-Control max-age") == true)
        let bad = try only("ttl 'soon' is not a duration", in: diagnostics)
        #expect(bad.location.line == 10)
        let swr = try only("stale_while_revalidate in the cache of call 'bad' must be longer than zero", in: diagnostics)
        #expect(swr.hint?.contains("leave it out to turn it off") == true)
        let shared = try only("shared must be true or false", in: diagnostics)
        #expect(shared.location.line == 11)
        #expect(diagnostics.count == 4, "\(diagnostics.map(\.description))")

        let size = SpecFixtures.diagnostics("cache_store: { max_bytes: lots }\n" + SpecFixtures.header + "  - route: GET /a\n    proxy: { service: users, path: /a }\n")
        #expect(try only("max_bytes 'lots' is not a size", in: size).location.line == 1)
    }

    @Test("an endpoint cache needs a ttl and an aggregation; a proxy route cannot have one")
    func endpointRules() throws {
        let diagnostics = SpecFixtures.diagnostics(
            endpoints: """
                  - route: GET /a
                    cache: { shared: true }
                    calls:
                      user: { service: users, path: /u }
                  - route: GET /p/{rest*}
                    cache: { ttl: 5s }
                    proxy: { service: users, path: "/p/{rest}" }
                """
        )
        let noTTL = try only("has no ttl", in: diagnostics)
        #expect(noTTL.location.line == 8)
        #expect(noTTL.message.contains("GET /a"))
        #expect(noTTL.hint == "add e.g. 'ttl: 5s'")
        let proxy = try only("proxy route GET /p/{rest*} cannot have a cache", in: diagnostics)
        #expect(proxy.location.line == 12)
        #expect(proxy.description.hasPrefix("test.yaml:12:"))
        #expect(diagnostics.count == 2)
    }

    @Test("Swift-declared calls are held to the same rules: a non-positive ttl or negative stale window is refused")
    func swiftDeclaredRules() throws {
        let here = SourceLocation(file: "Endpoints.swift", line: 42)
        let call = CallSpec(name: "user", service: "users", path: try Template.parse("/u", kind: .urlPath), location: here)
        var zero = call
        zero.cache = CacheSpec(ttl: .zero, location: here)
        var negative = call
        negative.cache = CacheSpec(ttl: .seconds(1), staleIfError: .seconds(-1), location: here)
        let services = ["users": ServiceSpec(name: "users", url: UpstreamURL("http://127.0.0.1:9001")!, location: here)]
        let diagnostics = SpecValidator.validate(
            AggregateSpec(calls: [zero], response: nil), route: try RoutePattern.parse("GET /a"), at: here, services: services
        ) + SpecValidator.validate(AggregateSpec(calls: [negative], response: nil), route: try RoutePattern.parse("GET /b"), at: here, services: services)
        #expect(try only("cache ttl of call 'user' must be longer than zero", in: diagnostics).location == here)
        #expect(try only("stale windows of call 'user' must not be negative", in: diagnostics).location == here)
    }
}
