import NIOCore
import Synchronization

/// Makes concurrent misses for one key share one fetch: the first starts it on the
/// ``CacheWorkers``, every later one waits for the same result, and the result goes to all.
///
/// The fetch belongs to no waiter, so a waiter that is cancelled (its client went away) or whose
/// own deadline passes first leaves alone; the fetch carries on for the others and still fills
/// the cache when the last waiter has gone.
final class RequestCoalescer<Value: Sendable>: Sendable {
    /// How waiting ended.
    enum Wait: Sendable {
        case value(Value)
        /// The waiting task was cancelled, or the fetch was abandoned because the server stopped.
        case cancelled
        /// The waiter's deadline came before the fetch's result.
        case timedOut
    }

    private let workers: CacheWorkers
    private let flights = Mutex<[String: Flight]>([:])

    private struct Flight {
        /// When the fetch gives up: the deadline of the waiter that started it.
        var deadline: NIODeadline
        var tickets: [Ticket] = []
    }

    init(workers: CacheWorkers) {
        self.workers = workers
    }

    /// Waits for the fetch in flight for `key`, starting it with `fetch` when there is none.
    ///
    /// - Parameters:
    ///   - deadline: this waiter's own; the fetch started here runs until it (`fetch` must honour it).
    ///   - eventLoop: where the timer for a waiter whose deadline comes before the fetch's runs.
    /// - Returns: how waiting ended, and whether this waiter joined a fetch another had started.
    func value(
        for key: String,
        deadline: NIODeadline,
        eventLoop: any EventLoop,
        fetch: @escaping @Sendable () async -> Value
    ) async -> (wait: Wait, joined: Bool) {
        let ticket = Ticket()
        var joined = false
        var timer: Scheduled<Void>?
        let wait = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                guard ticket.wait(continuation) else { return }
                let flightDeadline: NIODeadline? = flights.withLock { flights in
                    if flights[key] != nil {
                        flights[key]!.tickets.append(ticket)
                        return flights[key]!.deadline
                    }
                    flights[key] = Flight(deadline: deadline, tickets: [ticket])
                    return nil
                }
                if let flightDeadline {
                    joined = true
                    if deadline < flightDeadline {
                        timer = eventLoop.scheduleTask(deadline: deadline) { ticket.finish(.timedOut) }
                    }
                } else {
                    start(key, fetch: fetch)
                }
            }
        } onCancel: {
            ticket.finish(.cancelled)
        }
        timer?.cancel()
        return (wait, joined)
    }

    /// Starts a fetch for `key` with no one waiting, unless one is already in flight: a background
    /// refresh, which fills the cache for the requests after this one.
    func refresh(_ key: String, deadline: NIODeadline, fetch: @escaping @Sendable () async -> Value) {
        let started = flights.withLock { flights in
            guard flights[key] == nil else { return false }
            flights[key] = Flight(deadline: deadline)
            return true
        }
        if started { start(key, fetch: fetch) }
    }

    /// How many wait for the fetch in flight for `key` (for tests and diagnostics).
    func waiting(for key: String) -> Int {
        flights.withLock { $0[key]?.tickets.count ?? 0 }
    }

    private func start(_ key: String, fetch: @escaping @Sendable () async -> Value) {
        let accepted = workers.submit {
            let value = await fetch()
            self.finish(key, .value(value))
        }
        if !accepted { finish(key, .cancelled) }
    }

    private func finish(_ key: String, _ wait: Wait) {
        let tickets = flights.withLock { $0.removeValue(forKey: key)?.tickets ?? [] }
        for ticket in tickets { ticket.finish(wait) }
    }

    /// One waiter's place: resumed exactly once, by the result, its cancellation or its timer.
    private final class Ticket: Sendable {
        private enum State {
            case pending
            case waiting(CheckedContinuation<Wait, Never>)
            case finished(Wait)
        }

        private let state = Mutex(State.pending)

        /// Parks `continuation`; false when the ticket was already finished (cancelled before it
        /// waited), in which case the continuation is resumed at once and nothing may be joined.
        func wait(_ continuation: CheckedContinuation<Wait, Never>) -> Bool {
            let finished = state.withLock { state -> Wait? in
                if case .finished(let wait) = state { return wait }
                state = .waiting(continuation)
                return nil
            }
            if let finished {
                continuation.resume(returning: finished)
                return false
            }
            return true
        }

        func finish(_ wait: Wait) {
            let continuation = state.withLock { state -> CheckedContinuation<Wait, Never>? in
                switch state {
                case .pending:
                    state = .finished(wait)
                    return nil
                case .waiting(let continuation):
                    state = .finished(wait)
                    return continuation
                case .finished:
                    return nil
                }
            }
            continuation?.resume(returning: wait)
        }
    }
}
