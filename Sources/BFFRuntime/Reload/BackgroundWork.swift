import Logging
import ServiceLifecycle
import Synchronization

/// The server's background work, which a reload starts and stops part by part: each generation's
/// new parts bring services (JWKS refresh, health checks, cache workers), and a replaced part's
/// services stop while the parts that carried over keep running. All of it runs as children of
/// ``run()``, inside the server's own task, so none outlives the server.
final class BackgroundWork: Sendable {
    /// A group of services started together and stopped together.
    final class Job: Sendable {
        fileprivate let work: @Sendable () async -> Void
        fileprivate let stopped = Latch()

        fileprivate init(work: @escaping @Sendable () async -> Void) {
            self.work = work
        }

        /// Cancels the job's services; returns at once.
        func stop() {
            stopped.open()
        }
    }

    private let jobs: AsyncStream<Job>
    private let submit: AsyncStream<Job>.Continuation
    private let logger: Logger

    init(logger: Logger) {
        (jobs, submit) = AsyncStream.makeStream(of: Job.self)
        self.logger = logger
    }

    /// Runs `services` until the returned job is stopped or the server stops; a service that throws
    /// is logged and the others go on.
    @discardableResult
    func start(_ services: [any Service]) -> Job? {
        guard !services.isEmpty else { return nil }
        let logger = self.logger
        let job = Job { [services] in
            await withTaskGroup(of: Void.self) { group in
                for service in services {
                    group.addTask {
                        do {
                            try await service.run()
                        } catch is CancellationError {
                        } catch {
                            logger.error("background work stopped", metadata: ["service": "\(type(of: service))", "error": "\(error)"])
                        }
                    }
                }
            }
        }
        submit.yield(job)
        return job
    }

    /// Runs `work` after `delay`, or at once when the server stops first (the work must then finish
    /// without waiting: it is how retired parts release their connections).
    func after(_ delay: Duration, _ work: @escaping @Sendable () async -> Void) {
        submit.yield(
            Job {
                try? await Task.sleep(for: delay)
                await work()
            }
        )
    }

    /// Runs every job submitted until cancelled; then cancels them and waits for them to end.
    func run() async {
        await withDiscardingTaskGroup { group in
            for await job in jobs {
                group.addTask {
                    await withTaskGroup(of: Void.self) { racing in
                        racing.addTask { await job.work() }
                        racing.addTask { await job.stopped.wait() }
                        // Whichever ends first (the work, a stop, or cancellation) ends the other.
                        _ = await racing.next()
                        racing.cancelAll()
                    }
                }
            }
        }
    }
}

/// Opens once; `wait()` returns when it is open or the waiting task is cancelled.
final class Latch: Sendable {
    private enum State {
        case closed([UInt64: CheckedContinuation<Void, Never>])
        case open
    }

    private let state = Mutex<State>(.closed([:]))
    private let nextID = Atomic<UInt64>(0)

    func open() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            guard case .closed(let waiters) = state else { return [] }
            state = .open
            return Array(waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    func wait() async {
        let id = nextID.add(1, ordering: .relaxed).newValue
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let resumeNow = state.withLock { state -> Bool in
                    guard case .closed(var waiters) = state else { return true }
                    if Task.isCancelled { return true }
                    waiters[id] = continuation
                    state = .closed(waiters)
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
                guard case .closed(var waiters) = state else { return nil }
                let waiter = waiters.removeValue(forKey: id)
                state = .closed(waiters)
                return waiter
            }
            waiter?.resume()
        }
    }
}

/// Lets one task at a time through; the rest wait their turn in order.
final class Turnstile: Sendable {
    private let state = Mutex<(busy: Bool, waiting: [CheckedContinuation<Void, Never>])>((false, []))

    func withTurn<T: Sendable>(_ body: () async -> T) async -> T {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let enter = state.withLock { state -> Bool in
                if state.busy {
                    state.waiting.append(continuation)
                    return false
                }
                state.busy = true
                return true
            }
            if enter { continuation.resume() }
        }
        let result = await body()
        let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if state.waiting.isEmpty {
                state.busy = false
                return nil
            }
            return state.waiting.removeFirst()
        }
        next?.resume()
        return result
    }
}
