import BFFSpec
import Foundation

/// One limit to check for a request: a rate (GCRA with a burst) or a calendar quota, under a key
/// that says whose budget it is (`g0:ip:203.0.113.9`, `quota:acme`).
struct LimitCheck: Sendable, Hashable {
    enum Kind: Sendable, Hashable {
        case rate(RateSpec, burst: Int)
        case quota(QuotaSpec)
    }

    var key: String
    var kind: Kind

    init(key: String, kind: Kind) {
        self.key = key
        self.kind = kind
    }
}

/// What one check found, in the terms of the IETF `RateLimit-*` headers.
struct LimitDecision: Sendable, Hashable {
    var allowed: Bool
    /// The burst (rates) or the period's allowance (quotas).
    var limit: Int
    /// Requests left right now.
    var remaining: Int
    /// Until the budget is whole again (rates) or the period ends (quotas).
    var resetAfter: Duration
    /// Until a denied request could succeed; zero when allowed.
    var retryAfter: Duration

    init(allowed: Bool, limit: Int, remaining: Int, resetAfter: Duration, retryAfter: Duration) {
        self.allowed = allowed
        self.limit = limit
        self.remaining = remaining
        self.resetAfter = resetAfter
        self.retryAfter = retryAfter
    }
}

/// Where limiter state lives. A call checks every limit of a request at once and consumes from
/// none of them unless all allow, so a request refused by one limit costs nothing from the others.
protocol RateLimitStore: Sendable {
    /// One decision per check, in order; throws when the store cannot answer.
    func check(_ checks: [LimitCheck]) async throws -> [LimitDecision]
    /// Whether a check waits on the network; `RateLimiter` bounds only those with its timeout,
    /// sparing in-process checks the cost of a timer.
    var isRemote: Bool { get }
    /// Releases connections; the store is not used afterwards.
    func shutdown() async
}

extension RateLimitStore {
    var isRemote: Bool { true }
}

/// Unix time in nanoseconds; stores read it for quota periods and in-process rates.
typealias UnixClock = @Sendable () -> Int64

/// The system's wall clock as a `UnixClock`.
let systemUnixClock: UnixClock = { Int64((Date().timeIntervalSince1970 * 1e9).rounded()) }

// MARK: GCRA

/// The generic cell rate algorithm: one stored instant per key (the theoretical arrival time).
/// `interval` is the time one request "costs"; a burst of `burst` requests may arrive at once.
enum GCRA {
    struct Outcome {
        var decision: LimitDecision
        /// The key's new theoretical arrival time when allowed.
        var newTAT: Int64
    }

    /// Nanosecond arithmetic; `tat` is nil for a key never seen (or expired).
    static func evaluate(tat stored: Int64?, now: Int64, rate: RateSpec, burst: Int) -> Outcome {
        let burst = max(1, burst)
        let interval = max(1, rate.period.nanosecondsValue / Int64(max(1, rate.count)))
        let tolerance = interval * Int64(burst - 1)
        let tat = max(stored ?? now, now)
        if tat - now > tolerance {
            let decision = LimitDecision(
                allowed: false, limit: burst, remaining: 0,
                resetAfter: .nanoseconds(tat - now), retryAfter: .nanoseconds(tat - now - tolerance)
            )
            return Outcome(decision: decision, newTAT: tat)
        }
        let newTAT = tat + interval
        let remaining = Int((tolerance + interval - (newTAT - now)) / interval)
        let decision = LimitDecision(allowed: true, limit: burst, remaining: max(0, remaining), resetAfter: .nanoseconds(newTAT - now), retryAfter: .zero)
        return Outcome(decision: decision, newTAT: newTAT)
    }

    /// How long an idle key's state matters: after this its bucket is full again anyway.
    static func lifetime(rate: RateSpec, burst: Int) -> Int64 {
        max(1, rate.period.nanosecondsValue / Int64(max(1, rate.count))) * Int64(max(1, burst))
    }
}

// MARK: Calendar periods

/// UTC day and month boundaries for quotas.
enum QuotaPeriod {
    /// The period's id (`2026-11-24`, `2026-11`) and its end, as Unix seconds.
    static func current(_ window: QuotaSpec.Window, unixSeconds now: Int64) -> (id: String, end: Int64) {
        let days = now >= 0 ? now / 86_400 : (now - 86_399) / 86_400
        let (year, month, day) = civil(fromDays: days)
        switch window {
        case .day:
            return (String(year) + "-" + pad(month) + "-" + pad(day), (days + 1) * 86_400)
        case .month:
            let (nextYear, nextMonth) = month == 12 ? (year + 1, 1) : (year, month + 1)
            return (String(year) + "-" + pad(month), self.days(fromCivil: nextYear, nextMonth, 1) * 86_400)
        }
    }

    /// Howard Hinnant's days-from-civil, proleptic Gregorian.
    static func days(fromCivil year: Int64, _ month: Int64, _ day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func civil(fromDays z0: Int64) -> (Int64, Int64, Int64) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    private static func pad(_ value: Int64) -> String { value < 10 ? "0\(value)" : "\(value)" }
}
