import BFFSpec
import HTTPTypes
import Hummingbird
import Logging
import NIOCore

/// Serves an aggregation: validates the request's inputs, runs the compiled plan, composes the body.
struct AggregateEndpoint: EndpointHandler {
    let plan: CompiledPlan
    let executor: FanOutExecutor

    func handle(_ request: Request, context: BFFRequestContext, captures: [String: String]) async throws -> Response {
        let inputs = RequestInputs(request: request, context: context, captures: captures)
        try plan.requireValidInputs(inputs)
        let outcomes: [CallOutcome]
        do {
            outcomes = try await executor.execute(plan, inputs: inputs, eventLoop: context.eventLoop)
        } catch {
            context.noteOutcomes(route: plan.route.path, error.outcomes)
            throw error.problem
        }
        let names = plan.callNames
        context.noteOutcomes(route: plan.route.path, Array(zip(names.names, outcomes)))
        let body = ResponseComposer.body(
            names: names,
            outcomes: outcomes,
            shape: plan.output,
            includeMeta: plan.includeMeta,
            allocator: ByteBufferAllocator()
        )
        return AggregateResponse.make(body: body, names: names, outcomes: outcomes)
    }
}

/// Headers every aggregated answer carries, success or not.
enum AggregateResponse {
    static func make(body: ByteBuffer, names: CallNames, outcomes: [CallOutcome]) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        headers[.cacheControl] = "no-store"
        headers.append(contentsOf: reportHeaders(names: names, outcomes: outcomes))
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: body))
    }

    static func reportHeaders(names: CallNames, outcomes: [CallOutcome]) -> HTTPFields {
        var headers = HTTPFields()
        headers[.bffDegraded] = ResponseComposer.isDegraded(outcomes) ? "true" : "false"
        headers[.serverTiming] = ResponseComposer.serverTiming(names: names, outcomes: outcomes)
        return headers
    }
}

extension HTTPField.Name {
    static let bffDegraded = Self("X-BFF-Degraded")!
    static let serverTiming = Self("Server-Timing")!
    static let requestID = Self("X-Request-ID")!
}

extension BFFRequestContext {
    /// Tells the access log which calls degraded and the metrics how each call ended, and logs
    /// why each degraded call did at debug level.
    func noteOutcomes(route: String, _ outcomes: [(String, CallOutcome)]) {
        let degraded = outcomes.filter { !$0.1.succeeded }
        record.note(
            route: route,
            degradedCalls: degraded.map(\.0),
            calls: outcomes.map { CallSample(name: $0.0, status: $0.1.status, milliseconds: $0.1.milliseconds) }
        )
        for (name, outcome) in degraded {
            logger.debug(
                "call degraded",
                metadata: [
                    "request_id": .string(requestID),
                    "call": .string(name),
                    "status": .string(outcome.status.rawValue),
                    "reason": .string(outcome.reason ?? ""),
                ]
            )
        }
    }
}

extension TemplateFillError {
    /// What the client did wrong, naming the placeholder (never internal details).
    var clientMessage: String {
        switch self {
        case .badInput(let variable, let reason): return "request value \(variable) \(reason)"
        case .unresolvedDependency(let variable): return "value \(variable) is unavailable"
        }
    }
}

extension RequiredCallFailed {
    /// 504 when the required call timed out, else 502; lists every call's status, like `_meta`.
    var problem: Problem {
        let timedOut = status == .timeout
        var calls: [(String, JSONValue)] = []
        for (name, outcome) in outcomes {
            var entry: [(String, JSONValue)] = [("status", .string(outcome.status.rawValue))]
            if let http = outcome.http { entry.append(("http", .number(Double(http)))) }
            calls.append((name, .object(entry)))
        }
        return Problem(
            timedOut ? .gatewayTimeout : .badGateway,
            "required call '\(call)' \(timedOut ? "timed out" : "failed")",
            extensions: [("calls", .object(calls))],
            headers: AggregateResponse.reportHeaders(names: CallNames(outcomes.map(\.0)), outcomes: outcomes.map(\.1))
        )
    }
}
