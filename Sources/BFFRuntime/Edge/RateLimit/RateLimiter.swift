import BFFSpec
import Foundation
import Logging
import NIOCore
import Prometheus

/// A store plus what to do when it fails: the one thing the request path asks about limits.
///
/// ```swift
/// let limiter = RateLimiter.make(spec: edge.rateLimits, group: group, keyPrefix: "partner", logger: logger)
/// switch await limiter.check(checks) { ... }
/// await limiter.shutdown()
/// ```
final class RateLimiter: Sendable {
    enum Verdict: Sendable {
        case allowed([LimitDecision])
        case limited([LimitDecision])
        /// The store failed or was too slow; `allowed` is the spec's `on_store_error`.
        case storeUnavailable(allowed: Bool)
    }

    let store: any RateLimitStore
    let onStoreError: RateLimitsSpec.OnStoreError
    private let guarded: StoreCallGuard

    /// Longest a request waits for a remote store before `onStoreError` decides.
    var timeout: Duration { guarded.timeout }

    /// How many checks the store failed or answered too late (for metrics and tests).
    var storeErrors: Int { guarded.failures }

    /// - Parameters:
    ///   - storeErrors: the metric that counts store failures, beside ``storeErrors``.
    ///   - warningInterval: store failures are logged at most this often.
    init(
        store: any RateLimitStore,
        onStoreError: RateLimitsSpec.OnStoreError,
        timeout: Duration = StoreCallGuard.defaultTimeout,
        warningInterval: Duration = StoreCallGuard.defaultWarningInterval,
        storeErrors: Counter? = nil,
        logger: Logger
    ) {
        self.store = store
        self.onStoreError = onStoreError
        guarded = StoreCallGuard(
            timeout: timeout,
            warning: "rate limit store unavailable; requests are \(onStoreError == .allow ? "allowed" : "refused") meanwhile (on_store_error: \(onStoreError.rawValue))",
            warningInterval: warningInterval,
            errors: storeErrors,
            logger: logger
        )
    }

    /// The limiter the spec declares: an in-process store, or a Redis one whose connections open
    /// on first use (so a Redis that is down at start-up only makes checks fail, per
    /// `on_store_error`). The Redis password, if any, comes from `BFF_REDIS_PASSWORD`.
    ///
    /// - Parameters:
    ///   - keyPrefix: keeps this BFF's Redis keys apart from other BFFs sharing the Redis (its name).
    ///   - environment: where `BFF_REDIS_PASSWORD` is read.
    static func make(
        spec: RateLimitsSpec,
        group: any EventLoopGroup,
        keyPrefix: String,
        timeout: Duration = StoreCallGuard.defaultTimeout,
        environment: [String: String] = ProcessInfo.processInfo.environment,
        storeErrors: Counter? = nil,
        logger: Logger
    ) -> RateLimiter {
        let store: any RateLimitStore
        switch spec.store {
        case .memory(let maxKeys):
            store = MemoryRateLimitStore(maxKeys: maxKeys)
        case .redis(let url):
            let client = RedisClient(configuration: .init(url: url, environment: environment).allowing(timeout), group: group, logger: logger)
            store = RedisRateLimitStore(client: client, keyPrefix: keyPrefix)
        }
        return RateLimiter(store: store, onStoreError: spec.onStoreError, timeout: timeout, storeErrors: storeErrors, logger: logger)
    }

    /// Checks every limit of one request at once; never throws and never waits longer than
    /// `timeout` on a remote store.
    func check(_ checks: [LimitCheck]) async -> Verdict {
        let store = self.store
        let operation: @Sendable () async throws -> [LimitDecision] = { try await store.check(checks) }
        guard let decisions = store.isRemote ? await guarded.call(operation) : await guarded.callUnbounded(operation) else {
            return .storeUnavailable(allowed: onStoreError == .allow)
        }
        return decisions.allSatisfy(\.allowed) ? .allowed(decisions) : .limited(decisions)
    }

    /// The verdict on `checks` now, from an in-process store; nil for a remote store, which must be waited for.
    func checkOnLoop(_ checks: [LimitCheck]) -> Verdict? {
        guard let memory = store as? MemoryRateLimitStore else { return nil }
        let decisions = memory.decide(checks)
        return decisions.allSatisfy(\.allowed) ? .allowed(decisions) : .limited(decisions)
    }

    /// Closes the store's connections.
    func shutdown() async {
        await store.shutdown()
    }
}
