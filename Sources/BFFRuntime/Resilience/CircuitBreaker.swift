import BFFSpec
import Synchronization

/// A circuit breaker for one service over a rolling window of call results.
///
/// Closed, it counts results in ten buckets spanning the window; once the window holds at least
/// `minRequests` results and `failureRate` of them failed, it opens. Open, every call fails fast
/// until `openFor` has passed; then it is half-open and admits exactly `halfOpenProbes` calls. It
/// closes when every probe succeeds and reopens at the first probe that fails. A probe that is
/// cancelled gives its slot to the next caller, so a hung probe (bounded by its call's timeout)
/// never wedges the breaker.
final class CircuitBreaker: Sendable {
    enum State: String, Sendable {
        case closed, open
        case halfOpen = "half_open"
    }

    enum Permit: Sendable, Equatable {
        /// An ordinary call while closed.
        case allowed
        /// One of the half-open probes.
        case probe
        /// Open: fail fast; the breaker may let calls through again after this long.
        case rejected(retryAfter: Duration)
    }

    enum Result: Sendable {
        case success, failure
        /// Cancelled or otherwise without a verdict on the service.
        case none
    }

    private struct Bucket {
        var start: UInt64 = 0
        var successes = 0
        var failures = 0
    }

    private struct Core {
        var state = State.closed
        var buckets = [Bucket](repeating: Bucket(), count: CircuitBreaker.bucketCount)
        var openUntil: UInt64 = 0
        var probesAdmitted = 0
        var probesSucceeded = 0
        var openings = 0
    }

    static let bucketCount = 10
    let spec: CircuitBreakerSpec
    private let core = Mutex(Core())
    private let bucketNanos: UInt64

    init(spec: CircuitBreakerSpec) {
        self.spec = spec
        bucketNanos = max(1, UInt64(spec.window.nanosecondsValue) / UInt64(Self.bucketCount))
    }

    /// The state callers see now (an expired open breaker reads as half-open).
    func state(at now: UInt64) -> State {
        core.withLock { core in
            if core.state == .open && now >= core.openUntil { return .halfOpen }
            return core.state
        }
    }

    /// What the window holds now: results and failures.
    func window(at now: UInt64) -> (requests: Int, failures: Int) {
        core.withLock { core in
            let live = core.buckets.filter { now &- $0.start < UInt64(spec.window.nanosecondsValue) }
            return (live.reduce(0) { $0 + $1.successes + $1.failures }, live.reduce(0) { $0 + $1.failures })
        }
    }

    /// How many times it has opened since start-up.
    var openings: Int { core.withLock { $0.openings } }

    func acquire(at now: UInt64) -> Permit {
        core.withLock { core in
            switch core.state {
            case .closed:
                return .allowed
            case .open:
                guard now >= core.openUntil else { return .rejected(retryAfter: .nanoseconds(Int64(core.openUntil - now))) }
                core.state = .halfOpen
                core.probesAdmitted = 0
                core.probesSucceeded = 0
                fallthrough
            case .halfOpen:
                guard core.probesAdmitted < spec.halfOpenProbes else { return .rejected(retryAfter: .seconds(1)) }
                core.probesAdmitted += 1
                return .probe
            }
        }
    }

    func record(_ permit: Permit, _ result: Result, at now: UInt64) {
        core.withLock { core in
            switch permit {
            case .rejected:
                return
            case .probe:
                guard core.state == .halfOpen else { return }
                switch result {
                case .none:
                    core.probesAdmitted -= 1
                case .failure:
                    open(&core, at: now)
                case .success:
                    core.probesSucceeded += 1
                    if core.probesSucceeded >= spec.halfOpenProbes {
                        core.state = .closed
                        core.buckets = [Bucket](repeating: Bucket(), count: Self.bucketCount)
                    }
                }
            case .allowed:
                guard core.state == .closed else { return }
                let slot = Int((now / bucketNanos) % UInt64(Self.bucketCount))
                let start = now - now % bucketNanos
                if core.buckets[slot].start != start { core.buckets[slot] = Bucket(start: start) }
                switch result {
                case .success: core.buckets[slot].successes += 1
                case .failure: core.buckets[slot].failures += 1
                case .none: return
                }
                var requests = 0
                var failures = 0
                for bucket in core.buckets where now &- bucket.start < UInt64(spec.window.nanosecondsValue) {
                    requests += bucket.successes + bucket.failures
                    failures += bucket.failures
                }
                if requests >= spec.minRequests && Double(failures) >= spec.failureRate * Double(requests) {
                    open(&core, at: now)
                }
            }
        }
    }

    private func open(_ core: inout Core, at now: UInt64) {
        core.state = .open
        core.openUntil = now &+ UInt64(spec.openFor.nanosecondsValue)
        core.openings += 1
        core.buckets = [Bucket](repeating: Bucket(), count: Self.bucketCount)
    }
}
