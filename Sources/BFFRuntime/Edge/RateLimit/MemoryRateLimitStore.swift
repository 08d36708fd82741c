import BFFSpec
import Synchronization

/// Limiter state in this process: GCRA instants and quota counters for at most `maxKeys` keys,
/// least recently used evicted first, so a flood of random keys cannot grow memory.
///
/// Replicas do not share it; use the Redis store for that.
final class MemoryRateLimitStore: RateLimitStore {
    private let state: Mutex<LRU>
    private let now: UnixClock

    /// - Parameters:
    ///   - maxKeys: how many keys are remembered at most.
    ///   - now: Unix time in nanoseconds (tests pass a fake clock).
    init(maxKeys: Int, now: @escaping UnixClock = systemUnixClock) {
        state = Mutex(LRU(capacity: max(1, maxKeys)))
        self.now = now
    }

    var isRemote: Bool { false }

    /// Keys held right now (at most `maxKeys`).
    var count: Int { state.withLock { $0.count } }

    func check(_ checks: [LimitCheck]) async throws -> [LimitDecision] {
        decide(checks)
    }

    /// ``check(_:)`` without waiting: this store never needs to.
    func decide(_ checks: [LimitCheck]) -> [LimitDecision] {
        let now = self.now()
        return state.withLock { lru in
            var decisions: [LimitDecision] = []
            var updates: [(String, Int64)] = []
            for check in checks {
                switch check.kind {
                case .rate(let rate, let burst):
                    let key = "r|" + check.key
                    let lifetime = GCRA.lifetime(rate: rate, burst: burst)
                    let stored = lru.value(key).flatMap { $0 > now - lifetime ? $0 : nil }
                    let outcome = GCRA.evaluate(tat: stored, now: now, rate: rate, burst: burst)
                    decisions.append(outcome.decision)
                    updates.append((key, outcome.newTAT))
                case .quota(let quota):
                    let period = QuotaPeriod.current(quota.window, unixSeconds: now / 1_000_000_000)
                    let key = "q|" + check.key + "|" + period.id
                    let used = lru.value(key) ?? 0
                    let resetAfter = Duration.nanoseconds(period.end * 1_000_000_000 - now)
                    let allowed = used < Int64(quota.count)
                    decisions.append(
                        LimitDecision(
                            allowed: allowed, limit: quota.count, remaining: max(0, quota.count - Int(used) - (allowed ? 1 : 0)),
                            resetAfter: resetAfter, retryAfter: allowed ? .zero : resetAfter
                        )
                    )
                    updates.append((key, used + 1))
                }
            }
            if decisions.allSatisfy(\.allowed) {
                for (key, value) in updates { lru.set(key, value) }
            }
            return decisions
        }
    }

    func shutdown() async {}
}

/// A fixed-capacity map with least-recently-used eviction, in flat arrays (no per-entry objects).
struct LRU {
    private var slots: [String: Int] = [:]
    private var keys: [String] = []
    private var values: [Int64] = []
    private var previous: [Int] = []
    private var next: [Int] = []
    private var head = -1
    private var tail = -1
    let capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
        slots.reserveCapacity(min(capacity, 1 << 16))
    }

    var count: Int { slots.count }

    mutating func value(_ key: String) -> Int64? {
        guard let slot = slots[key] else { return nil }
        moveToFront(slot)
        return values[slot]
    }

    mutating func set(_ key: String, _ value: Int64) {
        if let slot = slots[key] {
            values[slot] = value
            moveToFront(slot)
            return
        }
        let slot: Int
        if slots.count < capacity {
            slot = keys.count
            keys.append(key)
            values.append(value)
            previous.append(-1)
            next.append(-1)
        } else {
            slot = tail
            unlink(slot)
            slots[keys[slot]] = nil
            keys[slot] = key
            values[slot] = value
        }
        slots[key] = slot
        pushFront(slot)
    }

    private mutating func moveToFront(_ slot: Int) {
        guard slot != head else { return }
        unlink(slot)
        pushFront(slot)
    }

    private mutating func unlink(_ slot: Int) {
        let p = previous[slot], n = next[slot]
        if p >= 0 { next[p] = n } else { head = n }
        if n >= 0 { previous[n] = p } else { tail = p }
        previous[slot] = -1
        next[slot] = -1
    }

    private mutating func pushFront(_ slot: Int) {
        previous[slot] = -1
        next[slot] = head
        if head >= 0 { previous[head] = slot }
        head = slot
        if tail < 0 { tail = slot }
    }
}
