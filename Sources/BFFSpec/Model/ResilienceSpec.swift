/// One instance of a service: its URL and its share of traffic under weighted balancing.
public struct ServiceInstanceSpec: Sendable, Hashable {
    public var url: UpstreamURL
    /// Relative share of requests under `balance: weighted` (default 1).
    public var weight: Int

    public init(url: UpstreamURL, weight: Int = 1) {
        self.url = url
        self.weight = weight
    }
}

/// How calls to a service with several instances choose one.
public enum BalanceStrategy: String, Sendable, CaseIterable {
    /// The instance with the fewest requests in flight; ties go round robin. The default.
    case leastOutstanding = "least_outstanding"
    case roundRobin = "round_robin"
    /// Round robin in proportion to each instance's `weight`.
    case weighted
}

/// Active health checks: each instance is asked `path` every `interval`; `unhealthy`
/// failures in a row take it out of rotation, `healthy` successes in a row bring it back.
public struct HealthCheckSpec: Sendable, Hashable {
    public var path: String
    public var interval: Duration
    public var timeout: Duration
    public var healthyThreshold: Int
    public var unhealthyThreshold: Int
    public var location: SourceLocation

    public init(
        path: String = "/health",
        interval: Duration = .seconds(5),
        timeout: Duration = .seconds(1),
        healthyThreshold: Int = 2,
        unhealthyThreshold: Int = 3,
        location: SourceLocation
    ) {
        self.path = path
        self.interval = interval
        self.timeout = timeout
        self.healthyThreshold = healthyThreshold
        self.unhealthyThreshold = unhealthyThreshold
        self.location = location
    }
}

/// Passive outlier ejection: an instance that fails `consecutiveFailures` calls in a row (5xx,
/// connect errors, resets, timeouts) is left out for `ejection` times the number of times it has
/// been ejected, and never more than `maxEjectedShare` of a service's instances at once.
public struct OutlierSpec: Sendable, Hashable {
    public var consecutiveFailures: Int
    public var ejection: Duration
    public var maxEjection: Duration
    public var maxEjectedShare: Double

    public static let `default` = OutlierSpec(consecutiveFailures: 5, ejection: .seconds(10), maxEjection: .seconds(300), maxEjectedShare: 0.5)

    public init(consecutiveFailures: Int, ejection: Duration, maxEjection: Duration, maxEjectedShare: Double) {
        self.consecutiveFailures = consecutiveFailures
        self.ejection = ejection
        self.maxEjection = maxEjection
        self.maxEjectedShare = maxEjectedShare
    }
}

/// A circuit breaker per service: over a rolling `window`, once at least `minRequests` calls were
/// made and `failureRate` of them failed, it opens for `openFor`; then exactly `halfOpenProbes`
/// calls are let through, and it closes when all of them succeed (any failure reopens it).
public struct CircuitBreakerSpec: Sendable, Hashable {
    public var window: Duration
    public var minRequests: Int
    public var failureRate: Double
    public var openFor: Duration
    public var halfOpenProbes: Int

    public init(
        window: Duration = .seconds(10),
        minRequests: Int = 20,
        failureRate: Double = 0.5,
        openFor: Duration = .seconds(5),
        halfOpenProbes: Int = 3
    ) {
        self.window = window
        self.minRequests = minRequests
        self.failureRate = failureRate
        self.openFor = openFor
        self.halfOpenProbes = halfOpenProbes
    }
}

/// Retries per service: at most `attempts` tries in all, `backoff` doubling with full jitter
/// between them, and retries never more than `budget` of the service's requests (plus
/// `minPerSecond`, so a quiet service can still retry).
public struct RetrySpec: Sendable, Hashable {
    public var attempts: Int
    public var backoff: Duration
    public var maxBackoff: Duration
    public var budget: Double
    public var minPerSecond: Int

    public init(attempts: Int = 2, backoff: Duration = .milliseconds(25), maxBackoff: Duration = .milliseconds(250), budget: Double = 0.2, minPerSecond: Int = 10) {
        self.attempts = attempts
        self.backoff = backoff
        self.maxBackoff = maxBackoff
        self.budget = budget
        self.minPerSecond = minPerSecond
    }
}

/// When a call sends a second, hedged request to another instance.
public struct HedgeSpec: Sendable, Hashable {
    public enum After: Sendable, Hashable {
        /// A fixed delay.
        case delay(Duration)
        /// The service's recent 95th-percentile latency for this call.
        case p95
    }

    public var after: After
    /// Extra requests at most (default 1).
    public var max: Int

    public init(after: After, max: Int = 1) {
        self.after = after
        self.max = max
    }
}

/// How upstream calls learn the time they have left.
public struct DeadlineSpec: Sendable, Hashable {
    /// Header that carries the milliseconds left; nil sends none.
    public var header: String?
    /// A call or retry with less time than this left is not started.
    public var minRemaining: Duration

    public static let defaultHeader = "X-Request-Deadline-Ms"

    public init(header: String? = DeadlineSpec.defaultHeader, minRemaining: Duration = .milliseconds(5)) {
        self.header = header
        self.minRemaining = minRemaining
    }
}
