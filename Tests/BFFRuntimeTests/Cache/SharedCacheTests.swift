import BFFSpec
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import Testing

@testable import BFFRuntime

/// The cache kept in a real redis-server and shared by two gateways over real sockets: what one
/// replica fetched the other serves, expiry, stale copies, a purge on one for both, and a Redis
/// that dies or stops answering mid-run.
@Suite("Cache: shared in Redis", .timeLimit(.minutes(1)))
struct SharedCacheTests {
    /// A BFF with one route over `stub`; the store's timeout is generous unless a test is about it,
    /// so a busy machine does not turn slow look-ups into misses.
    static func yaml(_ stub: StubUpstream, redis: RedisServer, timeout: String = "5s", calls: String, endpointCache: String = "") -> String {
        """
        name: shared-cache
        cache_store: { redis: \(redis.url), timeout: \(timeout) }
        services:
          svc: { url: "\(stub.url)", timeout: 5s }
        endpoints:
          - route: GET /page/{id}
            timeout: 5s
        \(endpointCache)
            calls:
        \(calls)
        """
    }

    func meta(_ response: TestResponse, _ call: String) throws -> JSONValue? {
        try response.json()["_meta"]?["calls"]?[call]
    }

    func metric(_ gateway: TestGateway, _ name: String, _ labels: [String: String] = [:]) async throws -> Double {
        PrometheusText.value(try await gateway.admin("/metrics").text, name, labels) ?? 0
    }

    /// A Redis client of the test's own, to look at keys.
    func inspecting<T>(_ redis: RedisServer, _ body: (RedisClient) async throws -> T) async throws -> T {
        let client = redis.client()
        do {
            let result = try await body(client)
            await client.shutdown()
            return result
        } catch {
            await client.shutdown()
            throw error
        }
    }

    // MARK: Sharing

    @Test("a miss on gateway A fills Redis; gateway B then answers from it without calling the service, for call and endpoint caches")
    func replicasShareAnswers() async throws {
        try await RedisServer.with { redis in
            try await withStubs { stubs in
                let stub = stubs[0]
                stub.on("/users/*", body: #"{"id":"u1","name":"Ada"}"#)
                let calls = Self.yaml(stub, redis: redis, calls: #"      user: { service: svc, path: "/users/{path.id}", cache: { ttl: 30s } }"#)
                try await withGateway(calls, adminListener: true) { first in
                    try await withGateway(calls, adminListener: true) { second in
                        let filled = try await first.get("/page/u1")
                        #expect(try meta(filled, "user")?["source"] == nil)
                        let shared = try await second.get("/page/u1")
                        #expect(shared.status == 200)
                        #expect(try shared.json()["user"] == ["id": "u1", "name": "Ada"])
                        #expect(try meta(shared, "user")?["source"] == "cache")
                        // Ages are whole seconds, so a second boundary between fill and read makes it 1.
                        #expect((try meta(shared, "user")?["age_s"]?.numberValue).map { $0 <= 1 } == true)
                        #expect(stub.requests(to: "/users/u1").count == 1, "B never called the service")
                        #expect(try await metric(second, "bff_cache_requests_total", ["result": "hit"]) == 1)
                        #expect(try await metric(first, "bff_cache_requests_total", ["result": "miss"]) == 1)
                        #expect(try await metric(second, "bff_cache_store_errors_total") == 0)
                    }
                }

                let endpoint = Self.yaml(
                    stub, redis: redis,
                    calls: #"      user: { service: svc, path: "/users/{path.id}" }"#,
                    endpointCache: "    cache: { ttl: 30s }"
                )
                try await withGateway(endpoint) { first in
                    try await withGateway(endpoint) { second in
                        let composed = try await first.get("/page/u2")
                        let hit = try await second.get("/page/u2")
                        #expect(hit.status == 200)
                        #expect(hit.body == composed.body, "the composed body byte for byte")
                        #expect(hit.header("ETag") == composed.header("ETag"))
                        #expect(hit.header("Server-Timing") == #"cache;desc="hit""#)
                        #expect(hit.header("Age") == "0")
                        let revalidated = try await second.get("/page/u2", headers: [("If-None-Match", composed.header("ETag") ?? "")])
                        #expect(revalidated.status == 304, "the stored ETag answers If-None-Match on the other replica")
                        #expect(stub.requests(to: "/users/u2").count == 1)
                    }
                }
            }
        }
    }

    @Test("answers varying by a header are shared per header value: the Vary marker is in Redis too")
    func varyIsShared() async throws {
        try await RedisServer.with { redis in
            try await withStubs { stubs in
                let stub = stubs[0]
                stub.on("/greeting") { request in
                    let language = request.headers["accept-language"].first ?? "en"
                    return StubResponse(.ok, #"{"lang":"\#(language)"}"#, headers: [("Vary", "Accept-Language")])
                }
                let yaml = Self.yaml(
                    stub, redis: redis,
                    calls: #"      greeting: { service: svc, path: /greeting, headers: { Accept-Language: "{header.accept-language:en}" }, cache: { ttl: 30s } }"#
                )
                try await withGateway(yaml) { first in
                    try await withGateway(yaml) { second in
                        for (gateway, language) in [(first, "de"), (second, "de"), (second, "fr"), (first, "fr")] {
                            let response = try await gateway.get("/page/x", headers: [("Accept-Language", language)])
                            #expect(try response.json()["greeting"] == ["lang": .string(language)])
                        }
                        #expect(stub.requests(to: "/greeting").count == 2, "one fetch per language, whichever replica asked")
                    }
                }
            }
        }
    }

    // MARK: Expiry and stale copies

    @Test("Redis keeps an answer for its ttl plus its longest stale window; past its ttl the other replica asks the service again")
    func ttlExpiry() async throws {
        try await RedisServer.with { redis in
            try await withStubs { stubs in
                let stub = stubs[0]
                stub.on("/users/*", body: #"{"id":"u1"}"#)
                let yaml = Self.yaml(
                    stub, redis: redis,
                    calls: #"""
                              user: { service: svc, path: "/users/{path.id}", cache: { ttl: 5s } }
                              long: { service: svc, path: "/users/long", cache: { ttl: 1s, stale_if_error: 10m, stale_while_revalidate: 5s } }
                        """#
                )
                try await withGateway(yaml) { first in
                    try await withGateway(yaml) { second in
                        _ = try await first.get("/page/u1")
                        let (keptFor, longKeptFor) = try await inspecting(redis) { client in
                            (
                                try await client.send(["PTTL", "bff:cache:shared-cache:call svc GET /users/u1 | anonymous"]).integer ?? -3,
                                try await client.send(["PTTL", "bff:cache:shared-cache:call svc GET /users/long | anonymous"]).integer ?? -3
                            )
                        }
                        #expect(keptFor > 0 && keptFor <= 5000, "PX is the ttl when there is no stale window, got \(keptFor)")
                        #expect(longKeptFor > 595_000 && longKeptFor <= 601_000, "PX is the ttl plus the longest stale window, got \(longKeptFor)")
                        #expect(try meta(try await second.get("/page/u1"), "user")?["source"] == "cache")
                        #expect(stub.requests(to: "/users/u1").count == 1)

                        // A 5 s ttl: under CI load more than 1 s has passed between the first answer and the second replica's read.
                        try await Task.sleep(for: .milliseconds(5200))
                        let expired = try await second.get("/page/u1")
                        #expect(try meta(expired, "user")?["source"] == nil, "past its ttl the answer is fetched again")
                        #expect(stub.requests(to: "/users/u1").count == 2)
                    }
                }
            }
        }
    }

    @Test("stale-if-error from Redis: B serves the copy A stored when the service is down, marked stale")
    func staleIfErrorAcrossReplicas() async throws {
        try await RedisServer.with { redis in
            let stub = try await StubUpstream.start()
            stub.on("/users/u1", body: #"{"id":"u1","name":"Ada"}"#)
            let yaml = Self.yaml(
                stub, redis: redis,
                calls: #"      user: { service: svc, path: "/users/{path.id}", required: true, cache: { ttl: 100ms, stale_if_error: 10m } }"#
            )
            try await withGateway(yaml) { first in
                try await withGateway(yaml) { second in
                    #expect(try await first.get("/page/u1").status == 200)
                    try await stub.shutdown()
                    try await Task.sleep(for: .milliseconds(1100))
                    let stale = try await second.get("/page/u1")
                    #expect(stale.status == 200, "a required call served a stale copy does not fail the endpoint")
                    #expect(try stale.json()["user"] == ["id": "u1", "name": "Ada"])
                    let entry = try #require(try meta(stale, "user"))
                    #expect(entry["source"] == "stale")
                    #expect(entry["status"] == "error")
                    #expect((entry["age_s"]?.numberValue ?? 0) >= 1, "its age counts from when A stored it")
                    #expect(try await second.get("/page/u2").status == 502, "nothing stored for u2")
                }
            }
        }
    }

    // MARK: Purge

    @Test("a purge on A's admin listener removes the answers B was serving, and says how many")
    func purgeOnOneReplicaReachesAll() async throws {
        try await RedisServer.with { redis in
            try await withStubs { stubs in
                let stub = stubs[0]
                stub.on("/users/*", body: #"{"id":"u"}"#)
                stub.on("/greeting") { _ in StubResponse(.ok, #"{"hi":1}"#, headers: [("Vary", "Accept-Language")]) }
                let yaml = Self.yaml(
                    stub, redis: redis,
                    calls: #"""
                              user: { service: svc, path: "/users/{path.id}", cache: { ttl: 10m } }
                              greeting: { service: svc, path: /greeting, headers: { Accept-Language: "{header.accept-language:en}" }, cache: { ttl: 10m } }
                        """#
                )
                try await withGateway(yaml, adminListener: true) { first in
                    try await withGateway(yaml, adminListener: true) { second in
                        for id in ["1", "2"] { _ = try await first.get("/page/\(id)") }
                        for id in ["1", "2"] { #expect(try meta(try await second.get("/page/\(id)"), "user")?["source"] == "cache") }
                        #expect(stub.requests(to: "/users/1").count == 1)

                        let purged = try await first.admin("/admin/cache/purge?prefix=call+svc+GET+/users/1+%7C", method: .POST)
                        #expect(purged.status == 200)
                        #expect(purged.text == #"{"purged":1}"#)
                        #expect(try meta(try await second.get("/page/1"), "user")?["source"] == nil, "B's hit is gone")
                        #expect(try meta(try await second.get("/page/2"), "user")?["source"] == "cache", "other keys stay")
                        #expect(stub.requests(to: "/users/1").count == 2)

                        let everything = try await second.admin("/admin/cache/purge?prefix=", method: .POST)
                        #expect(everything.text == #"{"purged":3}"#, "u1, u2 and one greeting variant; the Vary marker is not an answer")
                        let left = try await inspecting(redis) { client in
                            try await client.send(["KEYS", "bff:cache:shared-cache:*"])
                        }
                        #expect(left == .array([]))
                    }
                }
            }
        }
    }

    @Test("a fetch that started before a purge on another replica stores nothing; records come back exactly as stored")
    func purgeWinsOverFetchInFlight() async throws {
        try await RedisServer.with { redis in
            let replicaA = RedisCacheStore(client: redis.client(), bff: "race", maxBytes: 1 << 20, timeout: .seconds(10), errors: nil, logger: quietLogger)
            let replicaB = RedisCacheStore(client: redis.client(), bff: "race", maxBytes: 1 << 20, timeout: .seconds(10), errors: nil, logger: quietLogger)
            let lifetime = CacheLifetime(ttl: .seconds(30), staleIfError: .seconds(60), staleWhileRevalidate: .seconds(5))
            let made = NIODeadline.now()
            let answer = CachedResponse(
                status: 203, body: ByteBuffer(bytes: [0, 1, 2, 255] + Array("body".utf8)), storedAt: made - .seconds(3),
                lifetime: lifetime, entityTag: #"W/"abc""#
            )

            let before = await replicaA.lookup("k")
            #expect(before.entry == nil)
            let purged = try await replicaB.purge(prefix: "")
            #expect(purged == 0)
            await replicaA.store(answer, under: "k", vary: nil, generation: before.generation)
            #expect(await replicaB.lookup("k").entry == nil, "the purge on B came after A's look-up")

            let after = await replicaA.lookup("k")
            await replicaA.store(answer, under: "k", vary: VaryMarker(primaryKey: "p", names: ["accept-language", "x-tenant"]), generation: after.generation)
            guard case .response(let read) = await replicaB.lookup("k").entry else {
                Issue.record("the answer stored after the purge must be read back")
                return
            }
            #expect(read.status == 203)
            #expect(read.body == answer.body)
            #expect(read.entityTag == #"W/"abc""#)
            #expect(read.lifetime == lifetime)
            let now = NIODeadline.now()
            let age = read.age(at: now)
            let since = Duration.nanoseconds((now - made).nanoseconds)
            // Records keep whole milliseconds.
            #expect(age >= .seconds(3) - .milliseconds(1) && age <= .seconds(3) + since + .milliseconds(1), "the age survives the trip through Redis, got \(age)")
            guard case .variants(let names) = await replicaB.lookup("p").entry else {
                Issue.record("the Vary marker must be stored with the variant")
                return
            }
            #expect(names == ["accept-language", "x-tenant"])
            #expect(replicaA.failures == 0 && replicaB.failures == 0)
            await replicaA.shutdown()
            await replicaB.shutdown()
        }
    }

    // MARK: Redis failures

    @Test("Redis killed mid-run: requests are still answered 200 by the service, every failed look-up is counted, one warning is logged, and a purge says it failed")
    func redisKilled() async throws {
        try await RedisServer.with { redis in
            try await withStubs { stubs in
                let stub = stubs[0]
                stub.on("/users/*", body: #"{"id":"u"}"#)
                let handler = RecordingLogHandler(storage: .init())
                var logger = Logger(label: "test") { _ in handler }
                logger.logLevel = .warning
                let yaml = Self.yaml(stub, redis: redis, calls: #"      user: { service: svc, path: "/users/{path.id}", required: true, cache: { ttl: 10m } }"#)
                try await withGateway(yaml, adminListener: true, logger: logger) { gateway in
                    _ = try await gateway.get("/page/1")
                    #expect(try meta(try await gateway.get("/page/1"), "user")?["source"] == "cache")

                    redis.kill()
                    for _ in 0..<5 {
                        let started = ContinuousClock.now
                        let answer = try await gateway.get("/page/1")
                        #expect(answer.status == 200, "a dead store never fails a request")
                        #expect(try meta(answer, "user")?["source"] == nil, "answered by the service")
                        #expect(ContinuousClock.now - started < .seconds(2))
                    }
                    #expect(stub.requests(to: "/users/1").count == 6)
                    #expect(try await metric(gateway, "bff_cache_store_errors_total") >= 5, "every failed look-up")
                    let warnings = handler.storage.entries.filter { $0.level == .warning && $0.message.contains("cache store unavailable") }
                    #expect(warnings.count == 1, "one warning for a burst of failures")
                    #expect(warnings.first?.message.contains("redis://127.0.0.1:\(redis.port)/0") == true)

                    let purge = try await gateway.admin("/admin/cache/purge?prefix=", method: .POST)
                    #expect(purge.status == 503, "the operator hears that the purge did not happen")
                    #expect(purge.text.contains("purge again"))

                    try await redis.start()
                    let sharedAgain = await eventually(within: .seconds(10)) {
                        _ = try? await gateway.get("/page/1")
                        return (try? meta(try await gateway.get("/page/1"), "user")?["source"]) == "cache"
                    }
                    #expect(sharedAgain, "once Redis is back answers are stored and served from it again")
                }
            }
        }
    }

    @Test("a Redis that stops answering costs a request at most the store timeout; the service answers")
    func redisSilent() async throws {
        try await RedisServer.with { redis in
            try await withStubs { stubs in
                let stub = stubs[0]
                stub.on("/users/*", body: #"{"id":"u"}"#)
                let yaml = Self.yaml(stub, redis: redis, timeout: "200ms", calls: #"      user: { service: svc, path: "/users/{path.id}", cache: { ttl: 10m } }"#)
                try await withGateway(yaml, adminListener: true) { gateway in
                    _ = try await gateway.get("/page/1")
                    _ = try await inspecting(redis) { client in try await client.send(["CLIENT", "PAUSE", "3000", "ALL"]) }
                    let started = ContinuousClock.now
                    let answer = try await gateway.get("/page/1")
                    let took = ContinuousClock.now - started
                    #expect(answer.status == 200)
                    #expect(try meta(answer, "user")?["source"] == nil, "the look-up timed out: answered by the service")
                    #expect(took < .milliseconds(1500), "a look-up and a store of 200 ms each at most, got \(took)")
                    #expect(try await metric(gateway, "bff_cache_store_errors_total") >= 1)
                }
            }
        }
    }
}
