import BFFProto
import BFFSpec
import NIOCore
import Prometheus
import Synchronization

/// A service as the call path sees it: its instances, how to choose one, and the state that
/// protects it (passive ejection, the circuit breaker, the retry budget, recent latencies).
///
/// Built once at start-up per service. Choosing an instance and reporting a result touch only
/// atomics, except the breaker and budget, which each take one short lock.
final class ServiceCluster: Sendable {
    let name: String
    let spec: ServiceSpec
    let instances: [UpstreamInstance]
    let breaker: CircuitBreaker?
    let retryBudget: RetryBudget?
    /// Recent latencies, kept only when some call hedges after this service's p95.
    let latency: LatencyWindow?
    let metrics: ClusterMetrics
    private let cursor = Atomic<Int>(0)
    /// Instance indices in weighted round-robin order (smoothly interleaved).
    private let weightedOrder: [Int]

    /// The descriptor set of a gRPC service (`grpc:`); nil for an HTTP service.
    let grpc: DescriptorPool?

    var timeout: Duration { spec.timeout }
    /// The first instance: what single-instance code paths and TLS set-up use.
    var primary: ServiceEndpoint { instances[0].endpoint }

    /// - Parameters:
    ///   - tracksLatency: whether a call hedges after the service's p95, which needs its latencies.
    ///   - grpc: the service's descriptor set, when it is a gRPC service.
    init(spec: ServiceSpec, metrics: BFFMetrics, tracksLatency: Bool = false, grpc: DescriptorPool? = nil) {
        name = spec.name
        self.grpc = grpc
        latency = tracksLatency ? LatencyWindow() : nil
        self.spec = spec
        instances = spec.instances.enumerated().map { index, instance in
            var single = spec
            single.url = instance.url
            return UpstreamInstance(index: index, endpoint: ServiceEndpoint(single), weight: instance.weight)
        }
        breaker = spec.circuitBreaker.map(CircuitBreaker.init)
        retryBudget = spec.retry.map { RetryBudget(spec: $0) }
        weightedOrder = Self.smoothWeightedOrder(spec.instances.map(\.weight))
        self.metrics = ClusterMetrics(service: spec.name, metrics: metrics)
    }

    // MARK: Choosing an instance

    /// The instance for the next attempt, never one of `excluded` while another is available.
    ///
    /// Ejected or unhealthy instances are skipped; when none is left the choice is made among all
    /// of them, as sending somewhere beats failing every call because every check failed.
    func pick(excluding excluded: [Int] = []) -> UpstreamInstance {
        if instances.count == 1 { return instances[0] }
        let now = NIODeadline.uptimeNow
        let turn = cursor.wrappingAdd(1, ordering: .relaxed).oldValue & Int.max
        func eligible(_ instance: UpstreamInstance, strict: Bool) -> Bool {
            !excluded.contains(instance.index) && (!strict || instance.isAvailable(at: now))
        }
        for strict in [true, false] {
            switch spec.balance {
            case .roundRobin, .weighted:
                let order = spec.balance == .weighted ? weightedOrder : Array(instances.indices)
                for step in 0..<order.count {
                    let instance = instances[order[(turn + step) % order.count]]
                    if eligible(instance, strict: strict) { return instance }
                }
            case .leastOutstanding:
                var best: UpstreamInstance?
                for step in 0..<instances.count {
                    let instance = instances[(turn + step) % instances.count]
                    guard eligible(instance, strict: strict) else { continue }
                    if best == nil || instance.outstanding < best!.outstanding { best = instance }
                }
                if let best { return best }
            }
        }
        return instances[turn % instances.count]
    }

    // MARK: Retrying

    /// Answers that say the instance could not handle the request, so another one may: worth a
    /// retry where repeating the request is safe.
    static let retriedStatuses: Set<UInt> = [502, 503, 504]

    /// The pause to wait before another try at a request that has made `attempts` tries, or nil
    /// when none may be made: only with `retry` declared, below its `attempts`, while the task
    /// is not cancelled, when the pause still leaves `minRemaining` before `deadline`, and when
    /// the retry budget has a token, which a non-nil answer has taken.
    ///
    /// The pause is full jitter over an exponential ceiling (``RetryBudget/backoff(before:)``).
    /// Aggregation calls and proxied routes retry through this one gate; each counts the retry
    /// once it is made.
    func retryPause(after attempts: Int, deadline: NIODeadline, minRemaining: Duration) -> Duration? {
        guard let budget = retryBudget, let retry = spec.retry, attempts < retry.attempts, !Task.isCancelled else { return nil }
        let pause = budget.backoff(before: attempts)
        guard (deadline - .now()).nanoseconds - pause.nanosecondsValue >= minRemaining.nanosecondsValue, budget.withdraw() else { return nil }
        return pause
    }

    // MARK: Reporting

    /// Feeds one attempt's result to passive ejection; the breaker is fed per call by the caller.
    func report(_ instance: UpstreamInstance, failed: Bool) {
        let now = NIODeadline.uptimeNow
        guard let outlier = spec.outlier else { return }
        guard failed else {
            instance.recordSuccess(at: now, outlier: outlier)
            return
        }
        guard instance.recordFailure(outlier: outlier) else { return }
        let ejectable = Int(Double(instances.count) * outlier.maxEjectedShare)
        let ejected = instances.count { $0.isEjected(at: now) }
        guard ejected < ejectable, !instance.isEjected(at: now) else { return }
        instance.eject(at: now, outlier: outlier)
        metrics.ejections.increment()
    }

    /// Whether any instance passes its health checks (always true without checks).
    var hasHealthyInstance: Bool { instances.contains { $0.isHealthy } }

    /// Brings the gauges that describe state (rather than count events) up to date, before a scrape.
    func refreshGauges() {
        let now = NIODeadline.uptimeNow
        let state: Double
        switch breaker?.state(at: now) {
        case .open?: state = 2
        case .halfOpen?: state = 1
        case .closed?, nil: state = 0
        }
        metrics.breakerState.set(state)
        metrics.availableInstances.set(Double(instances.count { $0.isAvailable(at: now) }))
    }

    /// The breaker and instances as JSON, for `/admin/breakers`.
    var statusJSON: JSONValue {
        let now = NIODeadline.uptimeNow
        var members: [(String, JSONValue)] = []
        if let breaker {
            let window = breaker.window(at: now)
            members.append(("breaker", .object([
                ("state", .string(breaker.state(at: now).rawValue)),
                ("window_requests", .number(Double(window.requests))),
                ("window_failures", .number(Double(window.failures))),
                ("openings", .number(Double(breaker.openings))),
            ])))
        } else {
            members.append(("breaker", .null))
        }
        members.append(("instances", .array(instances.map { instance in
            .object([
                ("url", .string(spec.instances[instance.index].url.description)),
                ("healthy", .bool(instance.isHealthy)),
                ("ejected", .bool(instance.isEjected(at: now))),
                ("ejections", .number(Double(instance.ejections))),
                ("outstanding", .number(Double(instance.outstanding))),
            ])
        })))
        return .object(members)
    }

    /// Interleaves instances by weight so a weight-3 instance does not take three requests in a row
    /// (nginx's smooth weighted round robin, unrolled once at start-up).
    static func smoothWeightedOrder(_ weights: [Int]) -> [Int] {
        let total = weights.reduce(0, +)
        var current = [Int](repeating: 0, count: weights.count)
        var order: [Int] = []
        order.reserveCapacity(total)
        for _ in 0..<total {
            for index in weights.indices { current[index] += weights[index] }
            let chosen = current.indices.max { current[$0] < current[$1] }!
            current[chosen] -= total
            order.append(chosen)
        }
        return order
    }
}

/// The metrics series of one service, made once.
struct ClusterMetrics: Sendable {
    let retries: Counter
    let hedges: Counter
    let ejections: Counter
    let breakerRejections: Counter
    /// 0 closed, 1 half-open, 2 open; set when metrics are read.
    let breakerState: Gauge
    /// Instances in rotation (healthy and not ejected); set when metrics are read.
    let availableInstances: Gauge

    init(service: String, metrics: BFFMetrics) {
        let registry = metrics.registry
        breakerState = registry.gauge(
            "bff_circuit_breaker_state",
            labels: [("service", service)],
            help: "The service's circuit breaker: 0 closed, 1 half-open, 2 open (0 without a breaker)."
        )
        availableInstances = registry.gauge(
            "bff_upstream_instances_available",
            labels: [("service", service)],
            help: "Instances of the service in rotation: passing health checks and not ejected."
        )
        retries = registry.counter("bff_upstream_retries_total", labels: [("service", service)], help: "Retries sent to a service.")
        hedges = registry.counter("bff_upstream_hedges_total", labels: [("service", service)], help: "Hedged second requests sent to a service.")
        ejections = registry.counter("bff_upstream_ejections_total", labels: [("service", service)], help: "Instances ejected after consecutive failures.")
        breakerRejections = registry.counter(
            "bff_circuit_breaker_rejections_total",
            labels: [("service", service)],
            help: "Calls failed fast because the service's circuit breaker was open."
        )
    }
}
