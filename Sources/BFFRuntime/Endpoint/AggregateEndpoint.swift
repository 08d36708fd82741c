import BFFSpec
import HTTPTypes
import Hummingbird
import Logging
import NIOCore

/// Serves an aggregation: validates the request's inputs, runs the compiled plan, composes the body.
struct AggregateEndpoint: EndpointHandler {
    let plan: CompiledPlan
    let executor: FanOutExecutor
    /// The endpoint's `cache:`, when it has one.
    var cache: EndpointCache? = nil

    func handle(_ request: Request, context: BFFRequestContext, captures: [String: String]) async throws -> Response {
        let inputs = RequestInputs(request: request, context: context, captures: captures)
        try plan.requireValidInputs(inputs)
        let ifNoneMatch = request.headers[.ifNoneMatch]
        let cacheKey = cache?.key(path: request.uri.path, inputs: inputs)
        var generation: UInt64 = 0
        if let cache, let cacheKey {
            switch await cache.fresh(cacheKey) {
            case .hit(let body, let entityTag, let age):
                context.record.note(route: plan.route.path)
                return AggregateResponse.cached(body, entityTag: entityTag, age: age, ifNoneMatch: ifNoneMatch)
            case .miss(let read):
                generation = read
            }
        }
        let outcomes: [CallOutcome]
        do {
            outcomes = try await executor.execute(plan, inputs: inputs, eventLoop: context.eventLoop)
        } catch {
            context.noteOutcomes(route: plan.route.path, error.outcomes)
            throw error.problem
        }
        context.noteOutcomes(route: plan.route.path, Array(zip(plan.callNames.names, outcomes)))
        let answer = answer(outcomes, ifNoneMatch: ifNoneMatch)
        if let cache, let cacheKey, !ResponseComposer.isDegraded(outcomes) {
            await cache.store(answer.composed, entityTag: answer.entityTag, under: cacheKey, generation: generation)
        }
        return answer.response
    }

    /// The answer for a plan's outcomes: the composed body and its ETag (or a 304).
    func answer(_ outcomes: [CallOutcome], ifNoneMatch: String?) -> AggregateResponse.Answer {
        let body = composeBody(outcomes)
        let entityTag = AggregateResponse.entityTag(body.buffer, contentBytes: body.contentBytes, outcomes: outcomes)
        return AggregateResponse.answer(body: body.buffer, entityTag: entityTag, names: plan.callNames, outcomes: outcomes, ifNoneMatch: ifNoneMatch)
    }
}

extension AggregateEndpoint {
    /// The body for `outcomes`, shaped as the spec says, with `_meta` unless it is turned off.
    func composeBody(_ outcomes: [CallOutcome]) -> ComposedBody {
        ResponseComposer.body(
            names: plan.callNames,
            outcomes: outcomes,
            shape: plan.output,
            includeMeta: plan.includeMeta,
            allocator: ByteBufferAllocator()
        )
    }
}

/// Headers every aggregated answer carries, success or not.
enum AggregateResponse {
    /// The answer for a composed body: 200 with it, or 304 without it when `ifNoneMatch` names its
    /// ETag. Both carry the ETag and the report headers.
    ///
    /// `Cache-Control: private, no-cache` lets the client keep its own copy and revalidate it with
    /// `If-None-Match` every time, and keeps shared caches from storing a caller's answer.
    static func make(body: ByteBuffer, entityTag: String, names: CallNames, outcomes: [CallOutcome], ifNoneMatch: String?) -> Response {
        answer(body: body, entityTag: entityTag, names: names, outcomes: outcomes, ifNoneMatch: ifNoneMatch).response
    }

    /// ``make(body:entityTag:names:outcomes:ifNoneMatch:)`` as its parts.
    static func answer(body: ByteBuffer, entityTag: String, names: CallNames, outcomes: [CallOutcome], ifNoneMatch: String?) -> Answer {
        respond(body: body, entityTag: entityTag, headers: reportHeaders(names: names, outcomes: outcomes), ifNoneMatch: ifNoneMatch)
    }

    /// An aggregated answer before it becomes a response: 200 with the body, or 304 without it.
    struct Answer {
        var status: HTTPResponse.Status
        var headers: HTTPFields
        /// The body sent: the composed one, or nil for a 304.
        var body: ByteBuffer?
        /// The composed body, sent or not (what a cache keeps).
        var composed: ByteBuffer
        var entityTag: String

        var response: Response {
            Response(status: status, headers: headers, body: body.map { .init(byteBuffer: $0) } ?? .init())
        }
    }

    /// The answer for a body from the endpoint's cache: the stored bytes as they were composed,
    /// with their age, and a `Server-Timing` that says no call was made.
    static func cached(_ body: ByteBuffer, entityTag: String, age: Duration, ifNoneMatch: String?) -> Response {
        var headers = HTTPFields()
        headers[.bffDegraded] = "false"
        headers[.serverTiming] = #"cache;desc="hit""#
        headers[.age] = String(CachedResponse.seconds(age))
        return respond(body: body, entityTag: entityTag, headers: headers, ifNoneMatch: ifNoneMatch).response
    }

    /// The ETag of a body whose first `contentBytes` hold its sections; see ``EntityTag``.
    static func entityTag(_ body: ByteBuffer, contentBytes: Int, outcomes: [CallOutcome]) -> String {
        EntityTag.make(content: body.getSlice(at: body.readerIndex, length: contentBytes) ?? body, outcomes: outcomes)
    }

    private static func respond(body: ByteBuffer, entityTag: String, headers: HTTPFields, ifNoneMatch: String?) -> Answer {
        var headers = headers
        headers[.eTag] = entityTag
        headers[.cacheControl] = "private, no-cache"
        if let ifNoneMatch, EntityTag.matches(ifNoneMatch, entityTag) {
            return Answer(status: .notModified, headers: headers, body: nil, composed: body, entityTag: entityTag)
        }
        headers[.contentType] = "application/json"
        return Answer(status: .ok, headers: headers, body: body, composed: body, entityTag: entityTag)
    }

    /// ``answer(body:entityTag:names:outcomes:ifNoneMatch:)``'s status line and fields, in the same
    /// order, written as HTTP/1.1 straight into `bytes` (for answers written whole, past the
    /// encoders); returns its status. The caller writes its own fields, the empty line and, unless
    /// the status is 304, the body.
    ///
    /// Every value here is legal as it stands: the degradation flag, timings of calls whose names
    /// the spec loader accepted only as plain identifiers, and a base64 ETag.
    static func writeAnswerHead(entityTag: String, names: CallNames, outcomes: [CallOutcome], ifNoneMatch: String?, to bytes: inout some ByteSink) -> HTTPResponse.Status {
        let status: HTTPResponse.Status = ifNoneMatch.map { EntityTag.matches($0, entityTag) } == true ? .notModified : .ok
        bytes.writeHTTP1StatusLine(status)
        bytes.write(ResponseComposer.isDegraded(outcomes) ? "X-BFF-Degraded: true\r\n" : "X-BFF-Degraded: false\r\n")
        bytes.write("Server-Timing: ")
        ResponseComposer.writeServerTiming(names: names, outcomes: outcomes, to: &bytes)
        bytes.write("\r\n")
        bytes.writeFieldLine("ETag", entityTag)
        bytes.write("Cache-Control: private, no-cache\r\n")
        if status == .ok { bytes.write("Content-Type: application/json\r\n") }
        return status
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
        AggregateResponse.logDegraded(degraded, requestID: requestID, logger: logger)
    }
}

extension AggregateResponse {
    /// Logs why each degraded call did, at debug level.
    static func logDegraded(_ degraded: [(String, CallOutcome)], requestID: String, logger: Logger) {
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
    /// 504 when the required call timed out, 503 with Retry-After when its service's breaker is
    /// open, 404 (410) when its service answered 404 (410): what the screen is about does not exist,
    /// which the client can show; 400 when its service refused a call carrying the request's values
    /// with 400 or 422; else 502. Lists every call's status, like `_meta`.
    var problem: Problem {
        var calls: [(String, JSONValue)] = []
        for (name, outcome) in outcomes {
            var entry: [(String, JSONValue)] = [("status", .string(outcome.status.rawValue))]
            if let http = outcome.http { entry.append(("http", .number(Double(http)))) }
            calls.append((name, .object(entry)))
        }
        let report = AggregateResponse.reportHeaders(names: CallNames(outcomes.map(\.0)), outcomes: outcomes.map(\.1))
        if status == .circuitOpen {
            let retryAfter = outcomes.first { $0.0 == call }?.1.retryAfter ?? .seconds(1)
            var problem = Problem.circuitOpen(service: call, retryAfter: retryAfter)
            problem.detail = "required call '\(call)' was not made: its service is failing and is not being called for now"
            problem.extensions = [("calls", .object(calls))]
            problem.headers.append(contentsOf: report)
            return problem
        }
        if status == .error, let http = outcomes.first(where: { $0.0 == call })?.1.http {
            if http == 404 || http == 410 {
                return Problem(
                    http == 404 ? .notFound : .gone,
                    "required call '\(call)' found nothing: its service answered \(http)",
                    extensions: [("calls", .object(calls))],
                    headers: report
                )
            }
            if readsRequest && (http == 400 || http == 422) {
                return Problem(
                    .badRequest,
                    "required call '\(call)' was refused by its service (\(http)): a value this request gave it is not acceptable",
                    extensions: [("calls", .object(calls))],
                    headers: report
                )
            }
        }
        let timedOut = status == .timeout
        return Problem(
            timedOut ? .gatewayTimeout : .badGateway,
            "required call '\(call)' \(timedOut ? "timed out" : "failed")",
            extensions: [("calls", .object(calls))],
            headers: report
        )
    }
}
