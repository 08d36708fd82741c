import BFFSpec
import Logging
import NIOCore
import Testing

@testable import BFFRuntime

/// The Redis store against a real redis-server: one budget across replicas, atomic multi-limit
/// checks, quotas that outlive a client, key layout and expiry, and a Redis that goes away.
@Suite("Rate limiting: Redis store", .timeLimit(.minutes(1)))
struct RedisRateLimitStoreTests {
    static func rate(_ count: Int, per seconds: Int64 = 3600, burst: Int, key: String = "k") -> LimitCheck {
        LimitCheck(key: key, kind: .rate(RateSpec(count: count, period: .seconds(seconds)), burst: burst))
    }

    static func store(_ server: RedisServer, prefix: String = "test", configure: (inout RedisClient.Configuration) -> Void = { _ in }) -> RedisRateLimitStore {
        RedisRateLimitStore(client: server.client(configure: configure), keyPrefix: prefix)
    }

    @Test("two replicas on one Redis share one budget exactly: 40 concurrent tries at burst 20 give 20")
    func sharedBudget() async throws {
        try await RedisServer.with { server in
            let replicas = [Self.store(server), Self.store(server)]
            let check = Self.rate(1, burst: 20, key: "shared")
            let allowed = try await withThrowingTaskGroup(of: Bool.self) { group in
                for index in 0..<40 {
                    group.addTask { try await replicas[index % 2].check([check])[0].allowed }
                }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(allowed == 20)
            for replica in replicas { await replica.shutdown() }
        }
    }

    @Test("GCRA on Redis time: the burst at once with remaining counting down, then refusal with a retry-after")
    func burstThenRefusal() async throws {
        try await RedisServer.with { server in
            let store = Self.store(server)
            let check = Self.rate(3, burst: 3)
            var remaining: [Int] = []
            for _ in 0..<3 {
                let decision = try await store.check([check])[0]
                #expect(decision.allowed && decision.limit == 3 && decision.retryAfter == .zero)
                remaining.append(decision.remaining)
            }
            #expect(remaining == [2, 1, 0])
            let denied = try await store.check([check])[0]
            #expect(!denied.allowed && denied.remaining == 0)
            // One request costs 20 minutes at 3/h: the next fits once the first has been repaid.
            #expect(denied.retryAfter > .seconds(1100) && denied.retryAfter <= .seconds(1200))
            #expect(denied.resetAfter > .seconds(3500) && denied.resetAfter <= .seconds(3600))
            await store.shutdown()
        }
    }

    @Test("GCRA on Redis time: a used-up budget refills at the steady rate")
    func refill() async throws {
        try await RedisServer.with { server in
            let store = Self.store(server)
            let check = Self.rate(20, per: 1, burst: 1)
            #expect(try await store.check([check])[0].allowed)
            var refilled = false
            let deadline = ContinuousClock.now + .seconds(10)
            while !refilled && ContinuousClock.now < deadline {
                let decision = try await store.check([check])[0]
                refilled = decision.allowed
                if !refilled { try await Task.sleep(for: decision.retryAfter) }
            }
            #expect(refilled)
            await store.shutdown()
        }
    }

    @Test("all-or-nothing in one script: a refusal by one limit or quota consumes nothing from the others")
    func allOrNothing() async throws {
        try await RedisServer.with { server in
            let store = Self.store(server)
            let wide = Self.rate(1, burst: 3, key: "wide")
            let narrow = Self.rate(1, burst: 1, key: "narrow")
            let quota = LimitCheck(key: "acme", kind: .quota(QuotaSpec(count: 1, window: .day)))
            #expect(try await store.check([wide, narrow]).map(\.allowed) == [true, true])
            for _ in 0..<5 {
                #expect(try await store.check([wide, narrow]).map(\.allowed) == [true, false])
            }
            #expect(try await store.check([wide, quota]).map(\.allowed) == [true, true])
            #expect(try await store.check([wide, quota]).map(\.allowed) == [true, false])
            let alone = try await store.check([wide])[0]
            #expect(alone.allowed && alone.remaining == 0)
            await store.shutdown()
        }
    }

    @Test("a quota's count survives a new client (a restarted BFF) and says when its UTC period ends")
    func quotaSurvivesRestart() async throws {
        try await RedisServer.with { server in
            let quota = LimitCheck(key: "acme", kind: .quota(QuotaSpec(count: 3, window: .month)))
            let first = Self.store(server)
            #expect(try await first.check([quota]).map(\.remaining) == [2])
            #expect(try await first.check([quota]).map(\.remaining) == [1])
            await first.shutdown()
            let second = Self.store(server)
            #expect(try await second.check([quota]).map(\.remaining) == [0])
            let used = try await second.check([quota])[0]
            #expect(!used.allowed && used.limit == 3)
            let now = systemUnixClock()
            let end = QuotaPeriod.current(.month, unixSeconds: now / 1_000_000_000).end
            #expect(abs((used.resetAfter - .nanoseconds(end * 1_000_000_000 - now)).nanosecondsValue) < 5_000_000_000)
            #expect(used.retryAfter == used.resetAfter)
            await second.shutdown()
        }
    }

    @Test("keys are prefixed per BFF and expire: rate state when the budget is whole, quota counters at the period's end")
    func keysAndExpiry() async throws {
        try await RedisServer.with { server in
            let partner = Self.store(server, prefix: "partner")
            let mobile = Self.store(server, prefix: "mobile")
            let now = systemUnixClock() / 1_000_000_000
            let day = QuotaPeriod.current(.day, unixSeconds: now)
            #expect(try await partner.check([Self.rate(1, per: 60, burst: 1), LimitCheck(key: "acme", kind: .quota(QuotaSpec(count: 5, window: .day)))]).allSatisfy(\.allowed))
            #expect(try await mobile.check([Self.rate(1, per: 60, burst: 1)])[0].allowed)
            #expect(try await partner.check([Self.rate(1, per: 60, burst: 1)])[0].allowed == false)
            let raw = partner.client
            let rateTTL = try await raw.send(["PTTL", "bff:rl:partner:r:k"]).integer ?? -1
            #expect(rateTTL > 0 && rateTTL <= 60_000)
            #expect(try await raw.send(["EXPIRETIME", "bff:rl:partner:q:acme:\(day.id)"]).integer == day.end)
            #expect(try await raw.send(["GET", "bff:rl:partner:q:acme:\(day.id)"]).string == "1")
            #expect(try await raw.send(["EXISTS", "bff:rl:mobile:r:k"]).integer == 1)
            await partner.shutdown()
            await mobile.shutdown()
        }
    }

    @Test("Redis killed mid-test: checks fail promptly with a typed error, the limiter allows or denies as declared and counts, and recovers after a restart")
    func outage() async throws {
        try await RedisServer.with { server in
            let quickRetry: (inout RedisClient.Configuration) -> Void = { $0.reconnectBackoff = .milliseconds(50) }
            let store = Self.store(server, configure: quickRetry)
            // A generous timeout: this test is about failures, not slowness on a busy machine.
            let allowing = RateLimiter(store: store, onStoreError: .allow, timeout: .seconds(10), logger: Logger(label: "test"))
            let denying = RateLimiter(store: Self.store(server, configure: quickRetry), onStoreError: .deny, timeout: .seconds(10), logger: Logger(label: "test"))
            let check = Self.rate(1000, per: 1, burst: 1000)
            guard case .allowed = await allowing.check([check]), case .allowed = await denying.check([check]) else {
                Issue.record("checks must pass while Redis is up")
                return
            }
            server.kill()
            await #expect(throws: RedisError.self) { try await store.check([check]) }
            for _ in 0..<5 {
                guard case .storeUnavailable(allowed: true) = await allowing.check([check]) else {
                    Issue.record("allow mode must allow while Redis is down")
                    return
                }
                guard case .storeUnavailable(allowed: false) = await denying.check([check]) else {
                    Issue.record("deny mode must deny while Redis is down")
                    return
                }
            }
            #expect(allowing.storeErrors == 5 && denying.storeErrors == 5)
            try await server.start()
            var recovered = false
            let deadline = ContinuousClock.now + .seconds(10)
            while !recovered && ContinuousClock.now < deadline {
                if case .allowed = await allowing.check([check]) { recovered = true } else { try await Task.sleep(for: .milliseconds(20)) }
            }
            #expect(recovered)
            await allowing.shutdown()
            await denying.shutdown()
        }
    }
}
