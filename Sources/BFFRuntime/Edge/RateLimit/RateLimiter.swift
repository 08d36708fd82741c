import BFFSpec
import Foundation
import Logging
import NIOCore
import Prometheus
import Synchronization

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

    /// Why a check got no answer from the store in time.
    struct StoreTimeout: Error, CustomStringConvertible {
        var after: Duration
        var description: String { "the rate limit store did not answer within \(after)" }
    }

    static let defaultTimeout: Duration = .milliseconds(200)
    /// Store failures are logged at most this often, however many requests they hit.
    static let warningInterval: Duration = .seconds(5)

    let store: any RateLimitStore
    let onStoreError: RateLimitsSpec.OnStoreError
    /// Longest a request waits for a remote store before `onStoreError` decides.
    let timeout: Duration
    private let logger: Logger
    private let errors = Atomic<Int>(0)
    private let errorCounter: Counter?
    private let lastWarning = Atomic<UInt64>(0)

    /// How many checks the store failed or answered too late (for metrics and tests).
    var storeErrors: Int { errors.load(ordering: .relaxed) }

    /// - Parameter storeErrors: the metric that counts store failures, beside ``storeErrors``.
    init(
        store: any RateLimitStore,
        onStoreError: RateLimitsSpec.OnStoreError,
        timeout: Duration = RateLimiter.defaultTimeout,
        storeErrors: Counter? = nil,
        logger: Logger
    ) {
        self.store = store
        errorCounter = storeErrors
        self.onStoreError = onStoreError
        self.timeout = timeout
        self.logger = logger
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
        timeout: Duration = RateLimiter.defaultTimeout,
        environment: [String: String] = ProcessInfo.processInfo.environment,
        storeErrors: Counter? = nil,
        logger: Logger
    ) -> RateLimiter {
        let store: any RateLimitStore
        switch spec.store {
        case .memory(let maxKeys):
            store = MemoryRateLimitStore(maxKeys: maxKeys)
        case .redis(let url):
            let password = environment["BFF_REDIS_PASSWORD"].flatMap { $0.isEmpty ? nil : $0 }
            let client = RedisClient(configuration: .init(url: url, password: password), group: group, logger: logger)
            store = RedisRateLimitStore(client: client, keyPrefix: keyPrefix)
        }
        return RateLimiter(store: store, onStoreError: spec.onStoreError, timeout: timeout, storeErrors: storeErrors, logger: logger)
    }

    /// Checks every limit of one request at once; never throws and never waits longer than
    /// `timeout` on a remote store.
    func check(_ checks: [LimitCheck]) async -> Verdict {
        do {
            let decisions = store.isRemote ? try await checkWithin(timeout, checks) : try await store.check(checks)
            return decisions.allSatisfy(\.allowed) ? .allowed(decisions) : .limited(decisions)
        } catch {
            errors.add(1, ordering: .relaxed)
            errorCounter?.increment()
            warnAtMostEveryFewSeconds(error)
            return .storeUnavailable(allowed: onStoreError == .allow)
        }
    }

    /// Closes the store's connections.
    func shutdown() async {
        await store.shutdown()
    }

    private func checkWithin(_ timeout: Duration, _ checks: [LimitCheck]) async throws -> [LimitDecision] {
        let store = self.store
        return try await withThrowingTaskGroup(of: [LimitDecision]?.self) { group in
            group.addTask { try await store.check(checks) }
            group.addTask {
                try await Task.sleep(for: timeout)
                return nil
            }
            defer { group.cancelAll() }
            guard let decisions = try await group.next() ?? nil else { throw StoreTimeout(after: timeout) }
            return decisions
        }
    }

    private func warnAtMostEveryFewSeconds(_ error: any Error) {
        let now = NIODeadline.now().uptimeNanoseconds
        let last = lastWarning.load(ordering: .relaxed)
        guard last == 0 || now &- last >= UInt64(Self.warningInterval.nanosecondsValue) else { return }
        guard lastWarning.compareExchange(expected: last, desired: now, ordering: .relaxed).exchanged else { return }
        logger.warning(
            "rate limit store unavailable; requests are \(onStoreError == .allow ? "allowed" : "refused") meanwhile (on_store_error: \(onStoreError.rawValue))",
            metadata: ["error": "\(error)", "failures": "\(storeErrors)"]
        )
    }
}
