import BFFSpec
import Synchronization

/// The last few hundred latencies of a service, for hedging after its 95th percentile.
final class LatencyWindow: Sendable {
    private struct Samples {
        var values = [Int64](repeating: 0, count: LatencyWindow.capacity)
        var count = 0
        var next = 0
        var p95: Int64?
        var sinceComputed = 0
    }

    static let capacity = 256
    /// Fewer samples than this give no percentile: hedging waits for data.
    static let minimumSamples = 20
    private let samples = Mutex(Samples())

    func record(_ duration: Duration) {
        let nanos = duration.nanosecondsValue
        samples.withLock { samples in
            samples.values[samples.next] = nanos
            samples.next = (samples.next + 1) % Self.capacity
            samples.count = min(Self.capacity, samples.count + 1)
            samples.sinceComputed += 1
        }
    }

    /// The 95th percentile of the recent samples, recomputed at most every 16 samples.
    var p95: Duration? {
        samples.withLock { samples in
            guard samples.count >= Self.minimumSamples else { return nil }
            if samples.p95 == nil || samples.sinceComputed >= 16 {
                let sorted = samples.values.prefix(samples.count).sorted()
                samples.p95 = sorted[min(sorted.count - 1, Int(Double(sorted.count) * 0.95))]
                samples.sinceComputed = 0
            }
            return samples.p95.map { .nanoseconds($0) }
        }
    }
}
