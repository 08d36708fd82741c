import BFFSpec
import NIOCore
import Synchronization

/// One instance of a service and what the gateway knows about it right now: requests in flight,
/// whether active health checks pass, and whether passive ejection has taken it out.
///
/// Every field is an atomic, so event loops pick and report without taking a lock.
final class UpstreamInstance: Sendable {
    let index: Int
    let endpoint: ServiceEndpoint
    let weight: Int
    private let outstandingCount = Atomic<Int>(0)
    private let healthy = Atomic<Bool>(true)
    /// Uptime nanoseconds until which the instance is ejected; 0 when it never was.
    private let ejectedUntil = Atomic<UInt64>(0)
    private let failuresInARow = Atomic<Int>(0)
    private let ejectionCount = Atomic<Int>(0)

    init(index: Int, endpoint: ServiceEndpoint, weight: Int) {
        self.index = index
        self.endpoint = endpoint
        self.weight = weight
    }

    var outstanding: Int { outstandingCount.load(ordering: .relaxed) }
    var isHealthy: Bool { healthy.load(ordering: .relaxed) }
    var ejections: Int { ejectionCount.load(ordering: .relaxed) }

    func isEjected(at now: UInt64) -> Bool { now < ejectedUntil.load(ordering: .relaxed) }

    /// Healthy and not ejected: eligible for new requests.
    func isAvailable(at now: UInt64) -> Bool { isHealthy && !isEjected(at: now) }

    func started() { outstandingCount.wrappingAdd(1, ordering: .relaxed) }
    func finished() { outstandingCount.wrappingSubtract(1, ordering: .relaxed) }

    /// Sets the active health check verdict; true when it changed.
    func setHealthy(_ value: Bool) -> Bool {
        healthy.exchange(value, ordering: .relaxed) != value
    }

    /// Counts a success: the failure streak ends, and an instance that has stayed in for a whole
    /// base ejection since it came back starts its ejection count afresh.
    func recordSuccess(at now: UInt64, outlier: OutlierSpec?) {
        failuresInARow.store(0, ordering: .relaxed)
        guard let outlier, ejectionCount.load(ordering: .relaxed) > 0 else { return }
        let until = ejectedUntil.load(ordering: .relaxed)
        if now >= until &+ UInt64(outlier.ejection.nanosecondsValue) { ejectionCount.store(0, ordering: .relaxed) }
    }

    /// Counts a failure; true when the streak reached the ejection threshold (the caller decides
    /// whether the service can spare the instance).
    func recordFailure(outlier: OutlierSpec) -> Bool {
        failuresInARow.wrappingAdd(1, ordering: .relaxed).newValue >= outlier.consecutiveFailures
    }

    /// Ejects the instance for the base time multiplied by how often it has been ejected, capped.
    func eject(at now: UInt64, outlier: OutlierSpec) {
        failuresInARow.store(0, ordering: .relaxed)
        let count = ejectionCount.wrappingAdd(1, ordering: .relaxed).newValue
        let base = outlier.ejection.nanosecondsValue
        let length = min(outlier.maxEjection.nanosecondsValue, base.multipliedReportingOverflow(by: Int64(count)).partialValue)
        ejectedUntil.store(now &+ UInt64(max(0, length)), ordering: .relaxed)
    }
}

extension NIODeadline {
    /// Now, as the uptime nanoseconds the resilience state stores.
    static var uptimeNow: UInt64 { NIODeadline.now().uptimeNanoseconds }
}
