import BFFProto
import BFFSpec
import NIOCore
import NIOHTTP1

/// Runs a compiled plan as a DAG: every call starts the moment its own inputs are ready.
///
/// A required call that fails cancels the rest at once and the whole execution fails with
/// ``RequiredCallFailed``; optional calls that fail yield their fallback. Calls with a `cache:`
/// go through the BFF's cache, and a required call served a stale copy does not fail.
///
/// The plan runs as one state machine on the request's event loop (``PlanRun``), with no task or
/// promise per call. ``execute(_:inputs:eventLoop:)`` is its structured form: the awaiting task is
/// the scope of every call, and cancelling it cancels every call in flight.
struct FanOutExecutor: Sendable {
    let runner: CallRunner
    /// The BFF's cache; nil when no call or endpoint of it caches.
    var cache: CacheRuntime? = nil

    func execute(
        _ plan: CompiledPlan,
        inputs: RequestInputs,
        eventLoop: (any EventLoop)?
    ) async throws(RequiredCallFailed) -> [CallOutcome] {
        let loop = runner.transport.eventLoop(preferring: eventLoop)
        let result: Result<[CallOutcome], RequiredCallFailed> = await loop.awaitWork { completion in
            self.start(plan, inputs: inputs, on: loop, completion: completion)
        }
        return try result.get()
    }

    /// Starts `plan` from `eventLoop` (the caller is on it); `completion` is called there once
    /// every call has settled.
    func start(
        _ plan: CompiledPlan,
        inputs: RequestInputs,
        on eventLoop: any EventLoop,
        completion: @escaping (Result<[CallOutcome], RequiredCallFailed>) -> Void
    ) -> PlanRun {
        let run = PlanRun(plan: plan, inputs: inputs, executor: self, eventLoop: eventLoop, completion: completion)
        run.begin()
        return run
    }
}

/// One execution of a plan on one event loop. Confined to that loop (`@unchecked Sendable` only
/// so tasks for cached calls can hand their outcome back through `execute`).
final class PlanRun: LoopCancellable, @unchecked Sendable {
    private let plan: CompiledPlan
    private let inputs: RequestInputs
    private let executor: FanOutExecutor
    private let eventLoop: any EventLoop
    private let deadline: NIODeadline
    private var completion: ((Result<[CallOutcome], RequiredCallFailed>) -> Void)?
    /// Each call's state, by index, in one array (one allocation per run).
    private var slots: [Slot]
    private var inFlight = 0
    private var failedRequired: Int?
    /// Set once the run stops starting calls: a required call failed, or the run was cancelled.
    private var stopping = false

    init(
        plan: CompiledPlan,
        inputs: RequestInputs,
        executor: FanOutExecutor,
        eventLoop: any EventLoop,
        completion: @escaping (Result<[CallOutcome], RequiredCallFailed>) -> Void
    ) {
        self.plan = plan
        self.inputs = inputs
        self.executor = executor
        self.eventLoop = eventLoop
        self.completion = completion
        deadline = .now() + .nanoseconds(plan.timeout.nanosecondsValue)
        slots = plan.calls.map { Slot(waitingOn: $0.dependencies.count) }
    }

    private struct Slot {
        var outcome: CallOutcome?
        /// Inputs from other calls not settled yet.
        var waitingOn: Int
        /// The call, while it is in flight.
        var running: (any LoopCancellable)?
        /// The call's client span while it is in flight, when the request is traced.
        var trace: CallTrace?
        /// Whether the call went out with a span of its own.
        var traced = false
    }

    func begin() {
        for root in plan.roots where !stopping {
            if let immediate = launch(root) { settle(root, immediate) }
        }
        finishIfSettled()
    }

    /// Cancels every call in flight; each still reports, as cancelled, before the run completes.
    func cancel() {
        guard !stopping else { return }
        stopAll()
        finishIfSettled()
    }

    private func stopAll() {
        stopping = true
        for index in slots.indices {
            guard let call = slots[index].running.take() else { continue }
            call.cancel()
        }
    }

    /// Starts a call whose inputs are all settled, or returns its outcome at once when it cannot start.
    private func launch(_ index: Int) -> CallOutcome? {
        let call = plan.calls[index]
        if stopping { return .failed(.cancelled, milliseconds: 0, fallback: call.fallback, reason: "the request was cancelled") }
        func lookup(_ name: String) -> JSONValue? {
            plan.calls.first(where: { $0.name == name }).flatMap { slots[$0.index].outcome?.value }
        }
        let target: String
        var headers: HTTPHeaders
        let grpc: GRPCRequest?
        do {
            grpc = try call.grpc.map { GRPCRequest(method: $0.method, message: try $0.message(inputs: inputs, results: lookup)) }
            target = try call.target.render(inputs: inputs, restCapture: plan.route.restCapture, results: lookup)
            if call.headers.isEmpty {
                headers = requestHeaders
            } else {
                headers = HTTPHeaders()
                for header in call.headers {
                    headers.add(name: header.name, value: try header.value.render(inputs: inputs, results: lookup))
                }
                Self.addRequestHeaders(of: inputs, to: &headers)
            }
        } catch let error as TranscodingError {
            return .failed(.error, milliseconds: 0, fallback: call.fallback, reason: "the request message does not fit \(call.grpc?.method.input.fullName ?? "its type"): \(error)")
        } catch {
            return .failed(.skipped, milliseconds: 0, fallback: call.fallback, reason: "an input from another call is missing")
        }
        let callDeadline = min(deadline, .now() + .nanoseconds(call.timeout.nanosecondsValue))
        if let trace = inputs.trace {
            let span = trace.startCall(call.name, service: call.service.name)
            span.addHeaders(to: &headers)
            slots[index].trace = span
            slots[index].traced = true
        }
        inFlight += 1
        if let cache = executor.cache, call.cache != nil {
            slots[index].running = CachedCallTask(
                Task { [executor, inputs, eventLoop, headers] in
                    let outcome = await executor.runner.run(
                        call, target: target, headers: headers, inputs: inputs, deadline: callDeadline,
                        parse: call.needsParsedBody, cache: cache, eventLoop: eventLoop
                    )
                    eventLoop.execute { self.settled(index, outcome) }
                }
            )
        } else {
            slots[index].running = executor.runner.start(
                service: call.service, target: target, headers: headers, deadline: callDeadline,
                fallback: call.fallback, parse: call.needsParsedBody, hedge: call.hedge, grpc: grpc, on: eventLoop, tag: index
            ) { [self] index, outcome in settled(index, outcome) }
        }
        return nil
    }

    /// The headers every call of this request carries (its request id, the identity it forwards),
    /// built once and shared by the calls that add none of their own.
    private lazy var requestHeaders: HTTPHeaders = {
        var headers = HTTPHeaders()
        Self.addRequestHeaders(of: inputs, to: &headers)
        return headers
    }()

    private static func addRequestHeaders(of inputs: RequestInputs, to headers: inout HTTPHeaders) {
        if !inputs.requestID.isEmpty { headers.add(name: "x-request-id", value: inputs.requestID) }
        for (name, value) in inputs.identityHeaders { headers.replaceOrAdd(name: name, value: value) }
    }

    private func settled(_ index: Int, _ outcome: CallOutcome) {
        inFlight -= 1
        slots[index].running = nil
        slots[index].trace.take()?.end(outcome)
        if stopping {
            slots[index].outcome = slots[index].outcome ?? outcome
        } else {
            settle(index, outcome)
        }
        finishIfSettled()
    }

    /// Records an outcome and starts (or settles at once) every dependent now ready; stops the run
    /// when a required call failed.
    private func settle(_ index: Int, _ outcome: CallOutcome) {
        var next: (Int, CallOutcome)? = (index, outcome)
        var pending: [(Int, CallOutcome)] = []
        while let (i, result) = next.take() ?? pending.popLast() {
            slots[i].outcome = result
            if plan.calls[i].required && !result.hasServiceData {
                failedRequired = i
                stopAll()
                return
            }
            for dependent in plan.calls[i].dependents {
                slots[dependent].waitingOn -= 1
                if slots[dependent].waitingOn == 0, let immediate = launch(dependent) {
                    pending.append((dependent, immediate))
                }
            }
        }
    }

    private func finishIfSettled() {
        guard inFlight == 0, let completion else { return }
        self.completion = nil
        let settled = plan.calls.map { call in
            slots[call.index].outcome.take() ?? .failed(.skipped, milliseconds: 0, fallback: call.fallback, reason: "not started")
        }
        if let trace = inputs.trace {
            // Calls that never went out still show in the trace, with why.
            for call in plan.calls where !slots[call.index].traced {
                trace.recordUnsent(call.name, service: call.service.name, outcome: settled[call.index])
            }
        }
        if let failedRequired {
            completion(
                .failure(
                    RequiredCallFailed(
                        call: plan.calls[failedRequired].name,
                        status: settled[failedRequired].status,
                        outcomes: zip(plan.calls.map(\.name), settled).map { ($0, $1) },
                        readsRequest: plan.calls[failedRequired].readsRequest
                    )
                )
            )
        } else {
            completion(.success(settled))
        }
    }
}

/// A cached call's task, cancelled like any other call in flight.
private final class CachedCallTask: LoopCancellable {
    let task: Task<Void, Never>
    init(_ task: Task<Void, Never>) { self.task = task }
    func cancel() { task.cancel() }
}
