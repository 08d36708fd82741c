import BFFSpec
import NIOCore
import Synchronization

/// Tokens already verified, by their exact text, with the caller each proves: a client sends the
/// same token on every request until it expires, and a signature check (ES256 and RS256 most of
/// all) costs more than the rest of an aggregation.
///
/// A hit is the same bytes a full check accepted, so it proves what that check proved; what can
/// change with time is checked again on every hit: `exp` (with the leeway), and the entry's own age,
/// capped at ``maxAge`` so a key removed from the JWKS stops being honoured soon after. Bounded in
/// entries and in token bytes; when full, the oldest entries go first.
final class VerifiedTokenCache: Sendable {
    struct Limits: Sendable {
        var entries = 10_000
        var tokenBytes = 8 * 1024 * 1024
        var maxAge: Duration = .seconds(60)
    }

    private struct Entry {
        let principal: Principal
        /// Uptime after which the entry is no longer used: the token's `exp` plus leeway, or the
        /// entry's maximum age, whichever comes first.
        let validUntil: NIODeadline
    }

    private struct State {
        var entries: [String: Entry] = [:]
        /// Insertion order, for evicting the oldest.
        var order = CircularBuffer<String>()
        var bytes = 0
    }

    let limits: Limits
    private let state = Mutex(State())

    init(limits: Limits = Limits()) {
        self.limits = limits
    }

    /// The caller `token` proved when it was verified, if that is still known and still holds.
    func principal(for token: String, now: NIODeadline = .now()) -> Principal? {
        state.withLock { state in
            // An expired entry stays until it is the oldest (or the token is verified again), so
            // the insertion order always matches the entries.
            guard let entry = state.entries[token], now < entry.validUntil else { return nil }
            return entry.principal
        }
    }

    /// Keeps what a full check of `token` proved, until `expiresIn` from now (its `exp` plus
    /// leeway) or ``Limits/maxAge``, whichever is sooner.
    func store(_ principal: Principal, for token: String, expiresIn: Duration, now: NIODeadline = .now()) {
        let lifetime = min(expiresIn, limits.maxAge)
        guard lifetime > .zero, token.utf8.count <= limits.tokenBytes else { return }
        let entry = Entry(principal: principal, validUntil: now + .nanoseconds(lifetime.nanosecondsValue))
        state.withLock { state in
            if state.entries.updateValue(entry, forKey: token) != nil { return }
            state.order.append(token)
            state.bytes += token.utf8.count
            while state.order.count > limits.entries || state.bytes > limits.tokenBytes, let oldest = state.order.popFirst() {
                state.bytes -= oldest.utf8.count
                state.entries[oldest] = nil
            }
        }
    }

    /// Entries kept (for tests).
    var count: Int { state.withLock { $0.entries.count } }
}
