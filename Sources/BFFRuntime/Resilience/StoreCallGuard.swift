import BFFSpec
import Logging
import NIOCore
import Prometheus
import Synchronization

/// Calls on the request path to a store that may fail (a Redis shared by replicas): each is
/// bounded by a timeout, and every failure is counted (beside a metric) and logged at most once
/// every ``warningInterval`` (5 s), so a store that is down or slow costs a request at most the timeout
/// and the log one line every few seconds.
///
/// ```swift
/// let guarded = StoreCallGuard(warning: "cache store unavailable; ...", errors: metrics.cacheStoreErrors, logger: logger)
/// let reply = await guarded.call { try await client.send(["GET", key]) }   // nil after a failure
/// ```
final class StoreCallGuard: Sendable {
    /// Why a call got no answer from the store in time.
    struct Timeout: Error, CustomStringConvertible {
        var after: Duration
        var description: String { "the store did not answer within \(after)" }
    }

    static let defaultTimeout: Duration = .milliseconds(200)
    /// Failures are logged at most this often by default, however many requests they hit.
    static let defaultWarningInterval: Duration = .seconds(5)

    /// Longest a request waits for the store.
    let timeout: Duration
    /// Failures are logged at most this often.
    let warningInterval: Duration
    private let warning: Logger.Message
    private let counter: Counter?
    private let logger: Logger
    private let failureCount = Atomic<Int>(0)
    private let lastWarning = Atomic<UInt64>(0)

    /// - Parameters:
    ///   - warning: what a failure means for requests, logged with the error and the failures so far.
    ///   - errors: the metric that counts failures, beside ``failures``.
    init(
        timeout: Duration = StoreCallGuard.defaultTimeout,
        warning: Logger.Message,
        warningInterval: Duration = StoreCallGuard.defaultWarningInterval,
        errors: Counter?,
        logger: Logger
    ) {
        self.timeout = timeout
        self.warningInterval = warningInterval
        self.warning = warning
        counter = errors
        self.logger = logger
    }

    /// How many calls failed or answered too late (for metrics and tests).
    var failures: Int { failureCount.load(ordering: .relaxed) }

    /// Runs `operation` within ``timeout``; nil when it failed or took longer (counted and warned about).
    func call<T: Sendable>(_ operation: @escaping @Sendable () async throws -> T) async -> T? {
        await run(bounded: true, operation)
    }

    /// Runs `operation` as ``call(_:)`` does but without the timeout, for a store in this process
    /// that answers at once or fails.
    func callUnbounded<T: Sendable>(_ operation: @escaping @Sendable () async throws -> T) async -> T? {
        await run(bounded: false, operation)
    }

    private func run<T: Sendable>(bounded: Bool, _ operation: @escaping @Sendable () async throws -> T) async -> T? {
        do {
            return bounded ? try await within(timeout, operation) : try await operation()
        } catch {
            failed(error)
            return nil
        }
    }

    private func within<T: Sendable>(_ timeout: Duration, _ operation: @escaping @Sendable () async throws -> T) async throws -> T {
        try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await operation() }
            group.addTask {
                try await Task.sleep(for: timeout)
                return nil
            }
            defer { group.cancelAll() }
            guard let value = try await group.next() ?? nil else { throw Timeout(after: timeout) }
            return value
        }
    }

    private func failed(_ error: any Error) {
        let failures = failureCount.add(1, ordering: .relaxed).newValue
        counter?.increment()
        let now = NIODeadline.now().uptimeNanoseconds
        let last = lastWarning.load(ordering: .relaxed)
        guard last == 0 || now &- last >= UInt64(warningInterval.nanosecondsValue) else { return }
        guard lastWarning.compareExchange(expected: last, desired: now, ordering: .relaxed).exchanged else { return }
        logger.warning(warning, metadata: ["error": "\(error)", "failures": "\(failures)"])
    }
}
