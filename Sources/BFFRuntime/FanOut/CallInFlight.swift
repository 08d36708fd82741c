import BFFSpec
import NIOCore
import NIOHTTP1
import Prometheus

/// One call of an aggregation, run as a state machine on its event loop: the circuit breaker,
/// the balancer's pick, the request, retries after a backoff pause, ending in one ``CallOutcome``.
///
/// Hedged calls and calls to TLS services make each attempt in a task (their racing and
/// AsyncHTTPClient are async) and come back to the loop with its result. Confined to its event
/// loop; `@unchecked Sendable` only so those tasks can hand results back through `execute`.
final class CallInFlight: LoopCancellable, @unchecked Sendable {
    private let runner: CallRunner
    private let service: ServiceCluster
    private let request: UpstreamRequest
    private let deadline: NIODeadline
    private let fallback: JSONValue?
    private let parse: Bool
    private let hedge: HedgeSpec?
    private let eventLoop: any EventLoop
    private var completion: ((Int, CallOutcome) -> Void)?
    /// Handed back with the outcome, so a caller's completion needs to capture nothing but itself.
    private let tag: Int
    private let started = NIODeadline.now()
    private var permit: CircuitBreaker.Permit = .allowed
    /// Instances tried so far, in order.
    private var tried = TriedInstances()
    private var hedged = false
    private var cancelled = false
    /// What runs now: a request, a pause before the next try (holding the try it follows), or an attempt's task.
    private var exchange: BufferedExchange?
    private var pause: (timer: Scheduled<Void>, after: CallRunner.Attempt)?
    private var task: Task<Void, Never>?
    /// The instance of the attempt on the loop, and when it started.
    private var current: (instance: UpstreamInstance, started: NIODeadline)?

    init(
        runner: CallRunner,
        service: ServiceCluster,
        request: UpstreamRequest,
        deadline: NIODeadline,
        fallback: JSONValue?,
        parse: Bool,
        hedge: HedgeSpec?,
        eventLoop: any EventLoop,
        tag: Int = 0,
        completion: @escaping (Int, CallOutcome) -> Void
    ) {
        self.runner = runner
        self.service = service
        self.request = request
        self.deadline = deadline
        self.fallback = fallback
        self.parse = parse
        self.hedge = hedge
        self.eventLoop = eventLoop
        self.tag = tag
        self.completion = completion
    }

    /// Skips the call when too little time is left, refuses it while the breaker is open, else sends it.
    func begin() {
        if deadline - started < .nanoseconds(runner.deadlines.minRemaining.nanosecondsValue) || deadline <= started {
            report(.failed(.skipped, milliseconds: 0, fallback: fallback, reason: "too little time left before the endpoint deadline"))
            return
        }
        permit = service.breaker?.acquire(at: started.uptimeNanoseconds) ?? .allowed
        if case .rejected(let retryAfter) = permit {
            service.metrics.breakerRejections.increment()
            var outcome = CallOutcome.failed(.circuitOpen, milliseconds: 0, fallback: fallback, reason: "service '\(service.name)' has its circuit breaker open")
            outcome.attempts = 0
            outcome.retryAfter = retryAfter
            report(outcome)
            return
        }
        attempt()
    }

    /// Abandons the call: the request in flight fails as cancelled, a pending retry is not made.
    func cancel() {
        guard completion != nil, !cancelled else { return }
        cancelled = true
        if let pause {
            self.pause = nil
            pause.timer.cancel()
            finish(pause.after)
            return
        }
        exchange?.cancel()
        task?.cancel()
    }

    private func attempt() {
        if hedge != nil || request.grpc != nil || !runner.transport.startsOnLoop(service.primary) {
            let excluded = tried.all
            task = Task { [runner, request, service, deadline, hedge, eventLoop] in
                let attempt = await runner.hedged(request, to: service, excluding: excluded, deadline: deadline, hedge: hedge, eventLoop: eventLoop)
                eventLoop.execute { self.attempted(attempt) }
            }
            return
        }
        let instance = service.pick(excluding: tried.all)
        let now = NIODeadline.now()
        instance.started()
        current = (instance, now)
        // Captures only `self`, so the closure needs no allocation of its own.
        exchange = runner.transport.start(runner.prepared(request, deadline: deadline, at: now), to: instance.endpoint, deadline: deadline, on: eventLoop) { [self] result in
            exchange = nil
            guard let (instance, started) = current.take() else { return }
            instance.finished()
            attempted(CallRunner.attempt(result, to: instance, of: service, started: started))
        }
    }

    private func attempted(_ attempt: CallRunner.Attempt) {
        task = nil
        tried.append(attempt.instance)
        hedged = hedged || attempt.hedged
        if tried.count == 1 { service.retryBudget?.deposit() }
        guard !cancelled, attempt.isRetryable,
            let pause = service.retryPause(after: tried.count, deadline: deadline, minRemaining: runner.deadlines.minRemaining)
        else {
            finish(attempt)
            return
        }
        guard pause > .zero else { return retry() }
        let timer = eventLoop.assumeIsolated().scheduleTask(in: .nanoseconds(pause.nanosecondsValue)) { [self] in
            self.pause = nil
            retry()
        }
        self.pause = (timer, attempt)
    }

    private func retry() {
        service.metrics.retries.increment()
        attempt()
    }

    /// Ends the call with its deciding attempt, which the breaker learns from.
    private func finish(_ attempt: CallRunner.Attempt) {
        service.breaker?.record(permit, attempt.verdict, at: NIODeadline.uptimeNow)
        let milliseconds = Double((NIODeadline.now() - started).nanoseconds) / 1e6
        var outcome = CallRunner.outcome(of: attempt, service: service.name, milliseconds: milliseconds, fallback: fallback, parse: parse)
        outcome.attempts = tried.count
        outcome.hedged = hedged
        if case .success(let response) = attempt.result { outcome.responseHeaders = response.fields }
        report(outcome)
    }

    private func report(_ outcome: CallOutcome) {
        let completion = self.completion
        self.completion = nil
        completion?(tag, outcome)
    }
}

/// The instances a call has tried, in order; the first is kept inline, since most calls make one attempt.
struct TriedInstances {
    private var first: Int?
    private var more: [Int] = []

    var count: Int { first == nil ? 0 : 1 + more.count }

    /// All of them, as the balancer takes them.
    var all: [Int] {
        guard let first else { return [] }
        return more.isEmpty ? [first] : [first] + more
    }

    mutating func append(_ instance: Int) {
        if first == nil { first = instance } else { more.append(instance) }
    }
}
