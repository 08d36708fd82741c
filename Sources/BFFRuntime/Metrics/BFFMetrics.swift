import BFFSpec
import Prometheus
import Synchronization

/// One BFF's metrics, served as Prometheus text at `/metrics` on its admin listener.
///
/// Each server owns its registry (no process-wide metrics system), so several BFFs in one process
/// (`bff demo`, tests) keep their figures apart. Labelled series are made on first use and kept,
/// so a request pays one dictionary look-up per series, not a registry walk; every label value
/// comes from the spec (route patterns, call names) or a small fixed set, never from a request.
final class BFFMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    /// Requests being answered right now.
    let inFlight: Gauge
    /// Rate-limit checks the store failed to answer (each then decided by `on_store_error`).
    let rateLimitStoreErrors: Counter
    /// Bytes the in-process response cache holds: bodies, keys and per-entry bookkeeping.
    let cacheBytes: Gauge
    /// Look-ups and stores the cache's Redis failed or answered too late (each then a miss, or not kept).
    let cacheStoreErrors: Counter
    private let cacheRequests: [CacheResult: Counter]
    /// Spec reloads by result: applied, invalid (refused; the old spec kept serving), unavailable.
    let specReloads: [ReloadOutcome.Result: Counter]
    /// The generation of the spec serving now: 1 at start, one more per applied reload.
    let specGeneration: Gauge

    private struct Series {
        var requests: [RequestKey: Counter] = [:]
        var requestDurations: [String: DurationHistogram] = [:]
        var calls: [CallKey: Counter] = [:]
        var callDurations: [CallRoute: DurationHistogram] = [:]
        var live = LiveTally()
    }

    private struct RequestKey: Hashable {
        var route: String
        var status: Int
    }

    private struct CallRoute: Hashable {
        var route: String
        var call: String
    }

    private struct CallKey: Hashable {
        var call: CallRoute
        var outcome: CallStatus
    }

    private let series = Mutex(Series())

    static let requestBuckets: [Duration] = [1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000].map {
        .microseconds(Int64($0 * 1000))
    }

    init() {
        inFlight = registry.gauge("bff_http_requests_in_flight", help: "Requests being answered right now.")
        rateLimitStoreErrors = registry.counter(
            "bff_rate_limit_store_errors_total",
            help: "Rate-limit checks the store failed to answer in time; on_store_error decided each."
        )
        cacheBytes = registry.gauge("bff_cache_bytes", help: "Bytes the in-process response cache holds: bodies, keys and per-entry bookkeeping.")
        cacheStoreErrors = registry.counter(
            "bff_cache_store_errors_total",
            help: "Cache look-ups and stores the Redis store failed or answered too late; each look-up was a miss, each store kept nothing."
        )
        let registry = self.registry
        specReloads = Dictionary(
            uniqueKeysWithValues: [ReloadOutcome.Result.applied, .invalid, .unavailable].map { result in
                (
                    result,
                    registry.counter(
                        "bff_spec_reloads_total",
                        labels: [("result", result.rawValue)],
                        help: "Spec reloads (SIGHUP, POST /admin/reload, --watch) by result: applied, invalid (refused whole; the previous spec kept serving), unavailable (no spec file)."
                    )
                )
            }
        )
        specGeneration = registry.gauge("bff_spec_generation", help: "The spec serving now: 1 as started, one more per applied reload.")
        specGeneration.set(Int64(1))
        cacheRequests = Dictionary(
            uniqueKeysWithValues: CacheResult.allCases.map { result in
                (
                    result,
                    registry.counter(
                        "bff_cache_requests_total",
                        labels: [("result", result.rawValue)],
                        help: "Cache look-ups: hit (fresh), miss (fetched), coalesced (joined a fetch in flight), stale (a stale copy served)."
                    )
                )
            }
        )
    }

    /// Counts one answered request and its duration, and each of its calls by outcome, in the
    /// Prometheus series and in the admin page's ``LiveTally``.
    ///
    /// - Parameter route: the route pattern (`/dashboard/{id}`), or a fixed name for what no route
    ///   matched (`unmatched`).
    func record(route: String, status: Int, duration: Duration, calls: [CallSample]) {
        let (counter, histogram, callSeries) = series.withLock { series in
            series.live.count(route: route, status: status, milliseconds: Double(duration.nanosecondsValue) / 1e6, calls: calls)
            let key = RequestKey(route: route, status: status)
            let counter = series.requests[key] ?? {
                let made = registry.counter(
                    "bff_http_requests_total",
                    labels: [("route", route), ("status", String(status))],
                    help: "Requests answered, by route pattern and HTTP status."
                )
                series.requests[key] = made
                return made
            }()
            let histogram = series.requestDurations[route] ?? {
                let made = registry.durationHistogram(
                    "bff_http_request_duration_seconds",
                    labels: [("route", route)],
                    buckets: Self.requestBuckets,
                    help: "Time from the request head to the response, by route pattern."
                )
                series.requestDurations[route] = made
                return made
            }()
            let callSeries = calls.map { sample in
                let callRoute = CallRoute(route: route, call: sample.name)
                let key = CallKey(call: callRoute, outcome: sample.status)
                let counter = series.calls[key] ?? {
                    let made = registry.counter(
                        "bff_upstream_calls_total",
                        labels: [("route", route), ("call", sample.name), ("outcome", sample.status.rawValue)],
                        help: "Calls of aggregations, by route, call name and outcome (ok, error, timeout, skipped, cancelled)."
                    )
                    series.calls[key] = made
                    return made
                }()
                let histogram = series.callDurations[callRoute] ?? {
                    let made = registry.durationHistogram(
                        "bff_upstream_call_duration_seconds",
                        labels: [("route", route), ("call", sample.name)],
                        buckets: Self.requestBuckets,
                        help: "Time each call of an aggregation took, by route and call name."
                    )
                    series.callDurations[callRoute] = made
                    return made
                }()
                return (counter, histogram, sample.milliseconds)
            }
            return (counter, histogram, callSeries)
        }
        counter.increment()
        histogram.record(duration)
        for (counter, histogram, milliseconds) in callSeries {
            counter.increment()
            histogram.record(.microseconds(Int64(milliseconds * 1000)))
        }
    }

    /// Counts one cache look-up by how it was answered.
    func recordCache(_ result: CacheResult) {
        cacheRequests[result]?.increment()
        series.withLock { $0.live.count(result) }
    }

    /// The admin page's counts as they stand. The copy shares storage with the live tally, so the
    /// next request to count copies it once: one copy per poll, not per request.
    var live: LiveTally {
        series.withLock { $0.live }
    }

    /// The Prometheus text exposition of every series.
    func exposition() -> [UInt8] {
        registry.emitToBuffer()
    }
}
