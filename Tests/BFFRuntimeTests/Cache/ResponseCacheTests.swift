import BFFSpec
import NIOCore
import Synchronization
import Testing

@testable import BFFRuntime

/// A clock the tests move by hand.
final class ManualClock: Sendable {
    private let current = Mutex(NIODeadline.uptimeNanoseconds(1_000_000_000_000))

    var now: NIODeadline { current.withLock { $0 } }

    func advance(_ duration: Duration) {
        current.withLock { $0 = $0 + .nanoseconds(duration.nanosecondsValue) }
    }
}

/// The byte-bounded LRU store on its own: freshness, eviction, purge.
@Suite("Cache: the response store", .timeLimit(.minutes(1)))
struct ResponseCacheTests {
    static func response(_ body: String, at clock: ManualClock, ttl: Duration = .seconds(10), staleIfError: Duration = .zero, swr: Duration = .zero) -> CacheEntry {
        .response(
            CachedResponse(
                status: 200,
                body: ByteBuffer(string: body),
                storedAt: clock.now,
                lifetime: CacheLifetime(ttl: ttl, staleIfError: staleIfError, staleWhileRevalidate: swr)
            )
        )
    }

    static func body(_ entry: CacheEntry?) -> String? {
        guard case .response(let response) = entry else { return nil }
        return String(buffer: response.body)
    }

    @Test("an answer is fresh for its ttl, then within stale-while-revalidate, then stale-if-error, then gone")
    func lifetimeWindows() {
        let clock = ManualClock()
        let cache = ResponseCache(maxBytes: 1 << 20, now: { clock.now })
        cache.store(Self.response("a", at: clock, ttl: .seconds(10), staleIfError: .seconds(60), swr: .seconds(5)), under: "k", generation: cache.generation)

        func freshness() -> CacheFreshness? {
            guard case .response(let stored) = cache.entry("k") else { return nil }
            return stored.freshness(at: stored.age(at: clock.now))
        }
        #expect(freshness() == .fresh)
        clock.advance(.seconds(9))
        #expect(freshness() == .fresh)
        clock.advance(.seconds(2))
        #expect(freshness() == .revalidate)
        clock.advance(.seconds(5))
        #expect(freshness() == .staleIfError)
        clock.advance(.seconds(60))
        #expect(freshness() == nil, "past every window the entry is dropped")
        #expect(cache.bytes == 0)
        #expect(cache.count == 0)
    }

    @Test("50,000 distinct keys into a 1 MiB store never hold more than 1 MiB, and the newest stay")
    func boundedByBytes() {
        let clock = ManualClock()
        let limit = 1 << 20
        let observed = Mutex(0)
        let cache = ResponseCache(maxBytes: limit, now: { clock.now }) { bytes in observed.withLock { $0 = max($0, bytes) } }
        let body = String(repeating: "x", count: 200)
        var peak = 0
        for i in 0..<50_000 {
            cache.store(Self.response(body, at: clock), under: "call svc GET /items/\(i) | anonymous", generation: cache.generation)
            peak = max(peak, cache.bytes)
        }
        #expect(peak <= limit)
        #expect(observed.withLock { $0 } <= limit, "the byte total reported to the gauge never went over the limit")
        #expect(cache.bytes > limit - 1000, "the store fills up to its limit")
        let perEntry = 200 + "call svc GET /items/49999 | anonymous".utf8.count + ResponseCache.overheadBytes
        #expect(cache.count == limit / perEntry || cache.count == limit / perEntry - 1)
        #expect(Self.body(cache.entry("call svc GET /items/49999 | anonymous")) == body)
        #expect(cache.entry("call svc GET /items/0 | anonymous") == nil)
    }

    @Test("the least recently used entry goes first: reading an entry keeps it")
    func leastRecentlyUsedFirst() {
        let clock = ManualClock()
        let perEntry = 1 + 1 + ResponseCache.overheadBytes
        let cache = ResponseCache(maxBytes: perEntry * 8, now: { clock.now })
        for key in ["a", "b", "c", "d", "e", "f", "g", "h"] {
            cache.store(Self.response("x", at: clock), under: key, generation: cache.generation)
        }
        #expect(cache.entry("a") != nil)
        cache.store(Self.response("x", at: clock), under: "i", generation: cache.generation)
        #expect(cache.entry("b") == nil, "b was the least recently used")
        #expect(cache.entry("a") != nil)
        #expect(cache.count == 8)
    }

    @Test("an answer bigger than an eighth of the store is not kept, and replaces nothing stale")
    func oversizedNotKept() {
        let clock = ManualClock()
        let cache = ResponseCache(maxBytes: 8 * 1024, now: { clock.now })
        cache.store(Self.response("small", at: clock), under: "k", generation: cache.generation)
        cache.store(Self.response(String(repeating: "x", count: 2000), at: clock), under: "k", generation: cache.generation)
        #expect(cache.entry("k") == nil)
        #expect(cache.bytes == 0)
    }

    @Test("a stored body is copied out of the buffer it arrived in, so the charge is what is held")
    func bodyCopied() {
        let clock = ManualClock()
        let cache = ResponseCache(maxBytes: 1 << 20, now: { clock.now })
        var big = ByteBuffer(string: String(repeating: "y", count: 100_000))
        let slice = big.readSlice(length: 10)!
        let lifetime = CacheLifetime(ttl: .seconds(1), staleIfError: .zero, staleWhileRevalidate: .zero)
        cache.store(.response(CachedResponse(status: 200, body: slice, storedAt: clock.now, lifetime: lifetime)), under: "k", generation: cache.generation)
        guard case .response(let stored) = cache.entry("k") else {
            Issue.record("not stored")
            return
        }
        #expect(stored.body.capacity < 1000)
    }

    @Test("purge by prefix removes matching answers and counts them; a fetch that started before the purge stores nothing")
    func purgeByPrefix() {
        let clock = ManualClock()
        let cache = ResponseCache(maxBytes: 1 << 20, now: { clock.now })
        let keys = [
            "call users GET /users/u1 | sub=u1", "call users GET /users/u1 | sub=u2", "call users GET /users/u10 | sub=u1",
            "call orders GET /orders?user=u1 | sub=u1",
        ]
        for key in keys { cache.store(Self.response("x", at: clock), under: key, generation: cache.generation) }
        cache.store(.variants(["accept-language"]), under: "call users GET /users/v | anonymous", generation: cache.generation)
        let before = cache.generation

        #expect(cache.purge(prefix: "call users GET /users/u1 |") == 2)
        #expect(cache.entry("call users GET /users/u10 | sub=u1") != nil)
        #expect(cache.purge(prefix: "call users ") == 1, "Vary markers go too but are not answers")
        #expect(cache.entry("call users GET /users/v | anonymous") == nil)
        #expect(cache.count == 1)

        cache.store(Self.response("late", at: clock), under: "call users GET /users/u1 | sub=u1", generation: before)
        #expect(cache.entry("call users GET /users/u1 | sub=u1") == nil, "what a fetch from before the purge brings back is not stored")
        #expect(cache.purge(prefix: "") == 1, "an empty prefix empties the store")
        #expect(cache.bytes == 0)
    }
}
