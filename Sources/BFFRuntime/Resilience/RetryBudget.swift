import BFFSpec
import NIOCore
import Synchronization

/// Caps retries to a share of a service's requests, so an outage is not multiplied.
///
/// A token bucket: every first attempt deposits `budget` tokens, time adds `minPerSecond` tokens a
/// second, and every retry takes one whole token. The bucket holds at most `minPerSecond` tokens
/// (at least one), so a long healthy spell cannot save up a retry storm for the next outage.
final class RetryBudget: Sendable {
    private struct Tokens {
        var balance: Double
        var refilledAt: UInt64
    }

    let spec: RetrySpec
    private let capacity: Double
    private let tokens: Mutex<Tokens>

    init(spec: RetrySpec, now: UInt64 = NIODeadline.uptimeNow) {
        self.spec = spec
        capacity = Double(max(1, spec.minPerSecond))
        tokens = Mutex(Tokens(balance: Double(spec.minPerSecond), refilledAt: now))
    }

    /// A first attempt was made.
    func deposit() {
        guard spec.budget > 0 else { return }
        tokens.withLock { $0.balance = min(capacity, $0.balance + spec.budget) }
    }

    /// Takes a token for one retry; false when the budget is spent.
    func withdraw(at now: UInt64 = NIODeadline.uptimeNow) -> Bool {
        tokens.withLock { tokens in
            let elapsed = Double(now &- tokens.refilledAt) / 1e9
            tokens.refilledAt = now
            tokens.balance = min(capacity, tokens.balance + elapsed * Double(spec.minPerSecond))
            guard tokens.balance >= 1 else { return false }
            tokens.balance -= 1
            return true
        }
    }

    /// The pause before retry number `retry` (1 for the first): full jitter over an exponential
    /// ceiling, so retries from many requests do not arrive together.
    func backoff(before retry: Int) -> Duration {
        let base = spec.backoff.nanosecondsValue
        guard base > 0 else { return .zero }
        let ceiling = min(spec.maxBackoff.nanosecondsValue, base << min(20, max(0, retry - 1)))
        return .nanoseconds(Int64.random(in: 0...max(0, ceiling)))
    }
}
