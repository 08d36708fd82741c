import BFFSpec
import NIOCore
import NIOHTTP1

/// Runs a compiled plan as a DAG with structured concurrency: every call starts the moment its
/// own inputs are ready, all in one task group, so cancellation reaches every call in flight.
///
/// A required call that fails cancels the rest at once and the whole execution throws
/// ``RequiredCallFailed``; optional calls that fail yield their fallback. Calls with a `cache:`
/// go through the BFF's cache, and a required call served a stale copy does not fail.
struct FanOutExecutor: Sendable {
    let runner: CallRunner
    /// The BFF's cache; nil when no call or endpoint of it caches.
    var cache: CacheRuntime? = nil

    func execute(
        _ plan: CompiledPlan,
        inputs: RequestInputs,
        eventLoop: (any EventLoop)?
    ) async throws(RequiredCallFailed) -> [CallOutcome] {
        let deadline = NIODeadline.now() + .nanoseconds(plan.timeout.nanosecondsValue)
        var outcomes = [CallOutcome?](repeating: nil, count: plan.calls.count)
        var waitingOn = plan.calls.map(\.dependencies.count)
        var failedRequired: Int?

        await withTaskGroup(of: (Int, CallOutcome).self) { group in
            /// Starts a call whose inputs are all settled, or settles it at once as skipped.
            func launch(_ index: Int) -> CallOutcome? {
                let call = plan.calls[index]
                let lookup: (String) -> JSONValue? = { name in
                    plan.calls.first(where: { $0.name == name }).flatMap { outcomes[$0.index]?.value }
                }
                let target: String
                var headers = HTTPHeaders()
                do {
                    target = try call.target.render(inputs: inputs, restCapture: plan.route.restCapture, results: lookup)
                    for header in call.headers {
                        headers.add(name: header.name, value: try header.value.render(inputs: inputs, results: lookup))
                    }
                } catch {
                    return .failed(.skipped, milliseconds: 0, fallback: call.fallback, reason: "an input from another call is missing")
                }
                if !inputs.requestID.isEmpty { headers.add(name: "x-request-id", value: inputs.requestID) }
                for (name, value) in inputs.identityHeaders { headers.replaceOrAdd(name: name, value: value) }
                let callDeadline = min(deadline, .now() + .nanoseconds(call.timeout.nanosecondsValue))
                group.addTask { [headers] in
                    let outcome = await runner.run(
                        call,
                        target: target,
                        headers: headers,
                        inputs: inputs,
                        deadline: callDeadline,
                        parse: call.needsParsedBody,
                        cache: cache,
                        eventLoop: eventLoop
                    )
                    return (index, outcome)
                }
                return nil
            }

            /// Records an outcome and starts (or skips) every dependent now ready; false once a required call failed.
            func settle(_ index: Int, _ outcome: CallOutcome) -> Bool {
                var pending = [(index, outcome)]
                while let (i, result) = pending.popLast() {
                    outcomes[i] = result
                    if plan.calls[i].required && !result.hasServiceData {
                        failedRequired = i
                        return false
                    }
                    for dependent in plan.calls[i].dependents {
                        waitingOn[dependent] -= 1
                        if waitingOn[dependent] == 0, let immediate = launch(dependent) {
                            pending.append((dependent, immediate))
                        }
                    }
                }
                return true
            }

            var running = true
            for root in plan.roots {
                if let immediate = launch(root), !settle(root, immediate) {
                    running = false
                    break
                }
            }
            while running, let (index, outcome) = await group.next() {
                running = settle(index, outcome)
            }
            if !running {
                group.cancelAll()
                while let (index, outcome) = await group.next() {
                    outcomes[index] = outcomes[index] ?? outcome
                }
            }
        }

        let settled = plan.calls.map { call in
            outcomes[call.index] ?? .failed(.skipped, milliseconds: 0, fallback: call.fallback, reason: "not started")
        }
        if let failedRequired {
            throw RequiredCallFailed(
                call: plan.calls[failedRequired].name,
                status: settled[failedRequired].status,
                outcomes: zip(plan.calls.map(\.name), settled).map { ($0, $1) }
            )
        }
        return settled
    }
}
