import ServiceLifecycle
import Synchronization

/// Runs the cache's fetches that belong to no single request: a coalesced miss, which every waiter
/// shares and none may cancel for the others, and stale-while-revalidate refreshes.
///
/// Each job is a child task of ``run()``, which the server runs in its own task group, so no fetch
/// outlives the server: once the server stops the workers, new jobs are refused, and running and
/// still queued ones run cancelled (their upstream calls end at once) so their waiters hear back.
final class CacheWorkers: Service, Sendable {
    typealias Job = @Sendable () async -> Void

    private struct State {
        var queue: [Job] = []
        var wake: CheckedContinuation<Void, Never>?
        var stopped = false
    }

    private let state = Mutex(State())

    init() {}

    /// Queues `job`; false once the workers have stopped, when the caller must do without them.
    func submit(_ job: @escaping Job) -> Bool {
        let (accepted, wake) = state.withLock { state -> (Bool, CheckedContinuation<Void, Never>?) in
            guard !state.stopped else { return (false, nil) }
            state.queue.append(job)
            defer { state.wake = nil }
            return (true, state.wake)
        }
        wake?.resume()
        return accepted
    }

    /// Runs jobs until cancelled, then the ones still queued (cancelled, as children of a cancelled task).
    func run() async {
        await withDiscardingTaskGroup { group in
            while let job = await nextJob() {
                group.addTask(operation: job)
            }
        }
    }

    /// The next queued job, waiting for one; nil once stopped with the queue empty.
    private func nextJob() async -> Job? {
        while true {
            let next = state.withLock { state -> Job?? in
                if !state.queue.isEmpty { return .some(state.queue.removeFirst()) }
                return state.stopped ? .some(nil) : nil
            }
            if let next { return next }
            await withTaskCancellationHandler {
                await withCheckedContinuation { continuation in
                    let resumeNow = state.withLock { state in
                        guard state.queue.isEmpty, !state.stopped else { return true }
                        state.wake = continuation
                        return false
                    }
                    if resumeNow { continuation.resume() }
                }
            } onCancel: {
                let wake = state.withLock { state in
                    state.stopped = true
                    defer { state.wake = nil }
                    return state.wake
                }
                wake?.resume()
            }
        }
    }
}
