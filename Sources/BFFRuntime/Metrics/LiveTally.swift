import Foundation

/// Cumulative counts for the admin page (`/admin/status.json`), kept beside the Prometheus series
/// because those do not hand their bucket counts back.
///
/// Per route: answers by status class, 429s, and a latency histogram; per route and call: outcomes
/// and a latency histogram. Nothing is reset or windowed: a reader takes two snapshots and works out
/// rates and quantiles of the interval from their difference, so the server keeps no per-reader state.
/// Every figure is a fixed-size inline array, so counting a request for a series already seen
/// allocates nothing.
struct LiveTally: Sendable {
    var routes: [String: Route] = [:]
    /// Cache look-ups by result, in ``CacheResult/allCases`` order.
    var cache = InlineArray<4, UInt64>(repeating: 0)

    struct Route: Sendable {
        /// Answers by status class: index 1 for 1xx ... 5 for 5xx; 0 for anything outside 100-599.
        var statusClasses = InlineArray<6, UInt64>(repeating: 0)
        /// Answers with status 429 (rate limits, quotas), also counted in the 4xx class.
        var rateLimited: UInt64 = 0
        var latency = LatencyHistogram()
        var calls: [String: Call] = [:]

        var requests: UInt64 {
            var total: UInt64 = 0
            for index in statusClasses.indices { total += statusClasses[index] }
            return total
        }
    }

    struct Call: Sendable {
        /// Outcomes, in ``LiveTally/outcomes`` order.
        var outcomes = InlineArray<6, UInt64>(repeating: 0)
        var latency = LatencyHistogram()
    }

    /// The call outcomes counted, in the order of ``Call/outcomes``.
    static let outcomes: [CallStatus] = [.ok, .error, .timeout, .circuitOpen, .skipped, .cancelled]

    mutating func count(route: String, status: Int, milliseconds: Double, calls: [CallSample]) {
        routes[route, default: Route()].count(status: status, milliseconds: milliseconds, calls: calls)
    }

    mutating func count(_ result: CacheResult) {
        switch result {
        case .hit: cache[0] += 1
        case .miss: cache[1] += 1
        case .coalesced: cache[2] += 1
        case .stale: cache[3] += 1
        }
    }

    /// The count of `result` among cache look-ups.
    func cacheCount(_ result: CacheResult) -> UInt64 {
        switch result {
        case .hit: cache[0]
        case .miss: cache[1]
        case .coalesced: cache[2]
        case .stale: cache[3]
        }
    }
}

extension LiveTally.Route {
    mutating func count(status: Int, milliseconds: Double, calls samples: [CallSample]) {
        statusClasses[(100..<600).contains(status) ? status / 100 : 0] += 1
        if status == 429 { rateLimited += 1 }
        latency.record(milliseconds)
        for sample in samples {
            calls[sample.name, default: LiveTally.Call()].count(sample)
        }
    }
}

extension LiveTally.Call {
    mutating func count(_ sample: CallSample) {
        outcomes[Self.index(of: sample.status)] += 1
        latency.record(sample.milliseconds)
    }

    /// The count of `status` among this call's outcomes.
    func count(of status: CallStatus) -> UInt64 {
        outcomes[Self.index(of: status)]
    }

    private static func index(of status: CallStatus) -> Int {
        switch status {
        case .ok: 0
        case .error: 1
        case .timeout: 2
        case .circuitOpen: 3
        case .skipped: 4
        case .cancelled: 5
        }
    }
}

/// Latencies in log-spaced buckets, four per doubling (each about 19% wide) from 0.1 ms to about
/// 74 s, so a quantile read from them is within 10% of the true one.
///
/// Bucket 0 holds what is under 0.1 ms; bucket `i` (1 through 78) holds [`upperBounds[i-1]`,
/// `upperBounds[i]`); the last one everything from `upperBounds[78]` on.
struct LatencyHistogram: Sendable {
    static let bucketCount = 80
    static let smallestBound = 0.1
    static let bucketsPerDoubling = 4.0

    var counts = InlineArray<80, UInt64>(repeating: 0)

    /// The upper bound in milliseconds of every bucket but the last, which has none.
    static let upperBounds: [Double] = (0..<(bucketCount - 1)).map { smallestBound * pow(2, Double($0) / bucketsPerDoubling) }

    mutating func record(_ milliseconds: Double) {
        counts[Self.bucket(for: milliseconds)] += 1
    }

    static func bucket(for milliseconds: Double) -> Int {
        guard milliseconds >= smallestBound else { return 0 }
        let index = bucketsPerDoubling * log2(milliseconds / smallestBound) + 1
        return index < Double(bucketCount - 1) ? Int(index) : bucketCount - 1
    }

    /// The counts up to the last non-zero one (an empty histogram has none).
    var trimmedCounts: [UInt64] {
        var end = counts.count
        while end > 0 && counts[end - 1] == 0 { end -= 1 }
        return (0..<end).map { counts[$0] }
    }
}
