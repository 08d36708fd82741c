import BFFSpec
import Logging
import NIOPosix
import Synchronization
import Testing

@testable import BFFRuntime

/// The limiter around a store: the declared failure mode, the bound on a slow store, throttled
/// warnings, and the store the spec asks for.
@Suite("Rate limiting: limiter", .timeLimit(.minutes(1)))
struct RateLimiterTests {
    struct Broken: RateLimitStore {
        struct Down: Error {}
        func check(_ checks: [LimitCheck]) async throws -> [LimitDecision] { throw Down() }
        func shutdown() async {}
    }

    /// Answers only when cancelled, like a Redis that accepted the connection and went silent.
    struct Silent: RateLimitStore {
        func check(_ checks: [LimitCheck]) async throws -> [LimitDecision] {
            try await Task.sleep(for: .seconds(3600))
            return []
        }
        func shutdown() async {}
    }

    static let check = LimitCheck(key: "k", kind: .rate(RateSpec(count: 1, period: .seconds(1)), burst: 1))

    @Test("store failures give the declared mode and are counted")
    func failureModes() async {
        let allowing = RateLimiter(store: Broken(), onStoreError: .allow, logger: Logger(label: "test"))
        guard case .storeUnavailable(allowed: true) = await allowing.check([Self.check]) else {
            Issue.record("allow mode must allow")
            return
        }
        let denying = RateLimiter(store: Broken(), onStoreError: .deny, logger: Logger(label: "test"))
        guard case .storeUnavailable(allowed: false) = await denying.check([Self.check]) else {
            Issue.record("deny mode must deny")
            return
        }
        _ = await denying.check([Self.check])
        #expect(allowing.storeErrors == 1 && denying.storeErrors == 2)
    }

    @Test("a store that never answers is cut off by the limiter's timeout and counted as a failure")
    func silentStoreTimesOut() async {
        let limiter = RateLimiter(store: Silent(), onStoreError: .deny, timeout: .milliseconds(50), logger: Logger(label: "test"))
        guard case .storeUnavailable(allowed: false) = await limiter.check([Self.check]) else {
            Issue.record("a silent store must count as unavailable")
            return
        }
        #expect(limiter.storeErrors == 1)
    }

    @Test("a failing store logs one warning for a burst of failures, not one per request")
    func warningsThrottled() async {
        let handler = RecordingLogHandler(storage: .init())
        // An interval no test run outlasts: on a loaded machine 100 checks have taken over 5 s, the default.
        let limiter = RateLimiter(store: Broken(), onStoreError: .allow, warningInterval: .seconds(3600), logger: Logger(label: "test") { _ in handler })
        for _ in 0..<100 { _ = await limiter.check([Self.check]) }
        #expect(handler.storage.entries.filter { $0.level == .warning }.count == 1)
        #expect(limiter.storeErrors == 100)
    }

    @Test("make builds the store the spec declares; the Redis password comes from BFF_REDIS_PASSWORD")
    func factory() async {
        let group = MultiThreadedEventLoopGroup.singleton
        let memory = RateLimiter.make(spec: RateLimitsSpec(store: .memory(maxKeys: 10), onStoreError: .deny), group: group, keyPrefix: "web", logger: Logger(label: "test"))
        #expect(memory.store is MemoryRateLimitStore && memory.onStoreError == .deny)
        let url = RedisURL(host: "10.0.0.9", port: 6380, database: 2)
        let redis = RateLimiter.make(
            spec: RateLimitsSpec(store: .redis(url)), group: group, keyPrefix: "partner",
            environment: ["BFF_REDIS_PASSWORD": "pw"], logger: Logger(label: "test")
        )
        let configuration = (redis.store as? RedisRateLimitStore)?.client.configuration
        #expect(configuration?.host == "10.0.0.9" && configuration?.port == 6380 && configuration?.database == 2)
        #expect(configuration?.password == "pw")
        await memory.shutdown()
        await redis.shutdown()
    }
}
