import BFFSpec
import Logging
import Synchronization
import Testing

@testable import BFFRuntime

/// GCRA rates, calendar quotas and the bounded in-process store, on a fake clock.
@Suite("Rate limiting: in-process store")
struct MemoryRateLimitStoreTests {
    final class FakeClock: Sendable {
        let nanos: Mutex<Int64>
        init(_ start: Int64) { nanos = Mutex(start) }
        var now: @Sendable () -> Int64 { { self.nanos.withLock { $0 } } }
        func advance(_ duration: Duration) { nanos.withLock { $0 += duration.nanosecondsValue } }
    }

    /// 2026-11-24T10:00:00Z in Unix nanoseconds.
    static let start: Int64 = 1_795_514_400 * 1_000_000_000

    static func rate(_ count: Int, per seconds: Int64 = 1, burst: Int, key: String = "k") -> LimitCheck {
        LimitCheck(key: key, kind: .rate(RateSpec(count: count, period: .seconds(seconds)), burst: burst))
    }

    @Test("a burst is allowed at once, then the steady rate; retry-after says when the next one fits")
    func burstThenRate() async throws {
        let clock = FakeClock(Self.start)
        let store = MemoryRateLimitStore(maxKeys: 100, now: clock.now)
        let check = Self.rate(10, burst: 5)
        var remaining: [Int] = []
        for _ in 0..<5 {
            let decision = try await store.check([check])[0]
            #expect(decision.allowed)
            remaining.append(decision.remaining)
        }
        #expect(remaining == [4, 3, 2, 1, 0])
        let denied = try await store.check([check])[0]
        #expect(!denied.allowed)
        #expect(denied.retryAfter == .milliseconds(100))
        #expect(denied.limit == 5)
        clock.advance(.milliseconds(99))
        #expect(try await store.check([check])[0].allowed == false)
        clock.advance(.milliseconds(1))
        #expect(try await store.check([check])[0].allowed)
        #expect(try await store.check([check])[0].allowed == false)
        clock.advance(.seconds(1))
        let refilled = try await store.check([check])[0]
        #expect(refilled.allowed && refilled.remaining == 4)
    }

    @Test("keys have separate budgets")
    func separateKeys() async throws {
        let store = MemoryRateLimitStore(maxKeys: 100, now: FakeClock(Self.start).now)
        #expect(try await store.check([Self.rate(1, burst: 1, key: "a")])[0].allowed)
        #expect(try await store.check([Self.rate(1, burst: 1, key: "a")])[0].allowed == false)
        #expect(try await store.check([Self.rate(1, burst: 1, key: "b")])[0].allowed)
    }

    @Test("several limits are all-or-nothing: a refusal by one consumes nothing from the others")
    func allOrNothing() async throws {
        let store = MemoryRateLimitStore(maxKeys: 100, now: FakeClock(Self.start).now)
        let wide = Self.rate(1, per: 3600, burst: 3, key: "wide")
        let narrow = Self.rate(1, per: 3600, burst: 1, key: "narrow")
        #expect(try await store.check([wide, narrow]).map(\.allowed) == [true, true])
        for _ in 0..<5 {
            #expect(try await store.check([wide, narrow]).map(\.allowed) == [true, false])
        }
        let alone = try await store.check([wide])[0]
        #expect(alone.allowed && alone.remaining == 1)
    }

    @Test("a daily quota counts to its limit and resets at the UTC day boundary")
    func dailyQuota() async throws {
        let clock = FakeClock(Self.start)
        let store = MemoryRateLimitStore(maxKeys: 100, now: clock.now)
        let quota = LimitCheck(key: "acme", kind: .quota(QuotaSpec(count: 3, window: .day)))
        #expect(try await store.check([quota]).map(\.remaining) == [2])
        #expect(try await store.check([quota]).map(\.remaining) == [1])
        #expect(try await store.check([quota]).map(\.remaining) == [0])
        let used = try await store.check([quota])[0]
        #expect(!used.allowed)
        #expect(used.resetAfter == .seconds(14 * 3600))
        #expect(used.retryAfter == used.resetAfter)
        clock.advance(.seconds(14 * 3600))
        #expect(try await store.check([quota])[0].allowed)
    }

    @Test("a monthly quota resets on the first of the next month, across a year end")
    func monthlyQuota() throws {
        let december31 = QuotaPeriod.current(.month, unixSeconds: 1_798_761_599)
        #expect(december31.id == "2026-12")
        #expect(december31.end == 1_798_761_600)
        let january = QuotaPeriod.current(.month, unixSeconds: 1_798_761_600)
        #expect(january.id == "2027-01")
        #expect(QuotaPeriod.current(.day, unixSeconds: 1_709_164_800).id == "2024-02-29")
        #expect(QuotaPeriod.current(.month, unixSeconds: 1_709_164_800).end == 1_709_251_200)
    }

    @Test("a monthly quota used up on December 31 is whole again at 00:00 UTC on January 1")
    func monthlyQuotaResets() async throws {
        let clock = FakeClock((1_798_761_600 - 10) * 1_000_000_000)
        let store = MemoryRateLimitStore(maxKeys: 100, now: clock.now)
        let quota = LimitCheck(key: "acme", kind: .quota(QuotaSpec(count: 1, window: .month)))
        #expect(try await store.check([quota])[0].allowed)
        let used = try await store.check([quota])[0]
        #expect(!used.allowed && used.resetAfter == .seconds(10))
        clock.advance(.seconds(10))
        #expect(try await store.check([quota])[0].allowed)
    }

    @Test("a rate refused by its quota keeps the rate budget, and the other way round")
    func quotaAndRateTogether() async throws {
        let store = MemoryRateLimitStore(maxKeys: 100, now: FakeClock(Self.start).now)
        let rate = Self.rate(1, per: 3600, burst: 2, key: "acme")
        let quota = LimitCheck(key: "acme", kind: .quota(QuotaSpec(count: 1, window: .month)))
        #expect(try await store.check([rate, quota]).allSatisfy(\.allowed))
        #expect(try await store.check([rate, quota]).map(\.allowed) == [true, false])
        #expect(try await store.check([rate])[0].allowed)
    }

    @Test("memory stays bounded: 200,000 random keys leave at most maxKeys entries, recent keys kept")
    func boundedKeys() async throws {
        let store = MemoryRateLimitStore(maxKeys: 1000, now: FakeClock(Self.start).now)
        let hot = Self.rate(1, per: 3600, burst: 1, key: "hot")
        #expect(try await store.check([hot])[0].allowed)
        var generator = SystemRandomNumberGenerator()
        for index in 0..<200_000 {
            _ = try await store.check([Self.rate(1, burst: 1, key: String(generator.next(), radix: 36))])
            if index % 500 == 0 { #expect(try await store.check([hot])[0].allowed == false) }
        }
        #expect(store.count == 1000)
    }
}
