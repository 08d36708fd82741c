import BFFSpec
import Logging
import NIOCore
import Synchronization

/// A store plus what to do when it fails: the one thing the request path asks about limits.
final class RateLimiter: Sendable {
    enum Verdict: Sendable {
        case allowed([LimitDecision])
        case limited([LimitDecision])
        /// The store failed or was too slow; `allowed` is the spec's `on_store_error`.
        case storeUnavailable(allowed: Bool)
    }

    let store: any RateLimitStore
    let onStoreError: RateLimitsSpec.OnStoreError
    private let logger: Logger
    private let errors = Atomic<Int>(0)
    private let lastWarning = Atomic<Int64>(0)

    /// How many checks the store failed (for metrics and tests).
    var storeErrors: Int { errors.load(ordering: .relaxed) }

    init(store: any RateLimitStore, onStoreError: RateLimitsSpec.OnStoreError, logger: Logger) {
        self.store = store
        self.onStoreError = onStoreError
        self.logger = logger
    }

    func check(_ checks: [LimitCheck]) async -> Verdict {
        do {
            let decisions = try await store.check(checks)
            return decisions.allSatisfy(\.allowed) ? .allowed(decisions) : .limited(decisions)
        } catch {
            errors.add(1, ordering: .relaxed)
            warnAtMostEveryFewSeconds(error)
            return .storeUnavailable(allowed: onStoreError == .allow)
        }
    }

    func shutdown() async {
        await store.shutdown()
    }

    private func warnAtMostEveryFewSeconds(_ error: any Error) {
        let now = NIODeadline.now().uptimeNanoseconds
        let last = lastWarning.load(ordering: .relaxed)
        guard now &- UInt64(last) > 5_000_000_000 || last == 0 else { return }
        guard lastWarning.compareExchange(expected: last, desired: Int64(now), ordering: .relaxed).exchanged else { return }
        logger.warning(
            "rate limit store unavailable; requests are \(onStoreError == .allow ? "allowed" : "refused") meanwhile",
            metadata: ["error": "\(error)", "failures": "\(storeErrors)"]
        )
    }
}
