public import BFFSpec
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import NIOHTTP1
import Synchronization

/// A call a Swift endpoint may make, declared up front so it is validated against the spec's
/// services at start-up like any YAML call.
public struct SwiftCall: Sendable {
    public var name: String
    public var service: String
    public var path: String
    public var timeout: Duration?
    public var required: Bool
    public var fallback: JSONValue?
    /// How the service's answers are reused, as `cache:` on a YAML call.
    public var cache: CacheSpec?

    public init(
        _ name: String,
        service: String,
        path: String,
        timeout: Duration? = nil,
        required: Bool = false,
        fallback: JSONValue? = nil,
        cache: CacheSpec? = nil
    ) {
        self.name = name
        self.service = service
        self.path = path
        self.timeout = timeout
        self.required = required
        self.fallback = fallback
        self.cache = cache
    }
}

/// An endpoint whose logic is Swift, on the same engine as YAML aggregations: the same timeouts,
/// required/optional semantics, `_meta`, `X-BFF-Degraded` and `Server-Timing`.
///
/// ```swift
/// SwiftEndpoint("GET /products/{id}/summary", calls: [
///     SwiftCall("product", service: "products", path: "/products/{path.id}", required: true),
///     SwiftCall("reviews", service: "reviews", path: "/reviews?product={path.id}", fallback: []),
/// ]) { context in
///     async let product = context.fetch("product")
///     async let reviews = context.fetch("reviews", as: [Review].self)
///     return ["product": try await product, "rating": .number(average(try await reviews ?? []))]
/// }
/// ```
public struct SwiftEndpoint: Sendable {
    public typealias Handler = @Sendable (SwiftEndpointContext) async throws -> JSONValue

    public let route: String
    public let timeout: Duration
    public let calls: [SwiftCall]
    /// Who may call it, as `auth:` and `require:` on a YAML endpoint; required when the BFF declares auth.
    public let auth: EndpointAuthSpec?
    /// Limits of this endpoint, on top of the BFF-wide ones.
    public let rateLimits: [RateLimitSpec]
    public let location: SourceLocation
    public let handler: Handler

    public init(
        _ route: String,
        timeout: Duration = EndpointSpec.defaultTimeout,
        calls: [SwiftCall],
        auth: EndpointAuthSpec? = nil,
        rateLimits: [RateLimitSpec] = [],
        file: String = #fileID,
        line: Int = #line,
        handler: @escaping Handler
    ) {
        self.route = route
        self.timeout = timeout
        self.calls = calls
        self.auth = auth
        self.rateLimits = rateLimits
        self.location = SourceLocation(file: file, line: line)
        self.handler = handler
    }

    /// The endpoint as a spec, checked by the same validator as YAML endpoints.
    func spec() throws(SpecLoadError) -> (RoutePattern, AggregateSpec) {
        let route: RoutePattern
        do {
            route = try RoutePattern.parse(self.route)
        } catch {
            throw SpecLoadError([SpecDiagnostic(location, error.message, hint: error.hint)])
        }
        var diagnostics: [SpecDiagnostic] = []
        let calls: [CallSpec] = self.calls.compactMap { call in
            do throws(TemplateSyntaxError) {
                let path = try Template.parse(call.path, kind: .urlPath)
                var spec = CallSpec(
                    name: call.name, service: call.service, path: path, timeout: call.timeout,
                    required: call.required, fallback: call.fallback, location: location
                )
                spec.cache = call.cache
                return spec
            } catch {
                diagnostics.append(SpecDiagnostic(location, error.message, hint: error.hint))
                return nil
            }
        }
        guard diagnostics.isEmpty else { throw SpecLoadError(diagnostics) }
        return (route, AggregateSpec(calls: calls, response: nil))
    }
}

/// What a Swift endpoint's handler works with: the request's inputs and named calls.
public final class SwiftEndpointContext: Sendable {
    public let inputs: RequestInputs
    private let plan: CompiledPlan
    private let runner: CallRunner
    private let cache: CacheRuntime?
    private let eventLoop: any EventLoop
    private let deadline: NIODeadline
    private let outcomes: Mutex<[String: CallOutcome]>

    init(inputs: RequestInputs, plan: CompiledPlan, runner: CallRunner, cache: CacheRuntime?, eventLoop: any EventLoop) {
        self.inputs = inputs
        self.plan = plan
        self.runner = runner
        self.cache = cache
        self.eventLoop = eventLoop
        self.deadline = .now() + .nanoseconds(plan.timeout.nanosecondsValue)
        self.outcomes = Mutex([:])
    }

    /// Runs the declared call `name` and returns its JSON, or its fallback (null when none) if it
    /// is optional and failed. Throws ``RequiredCallFailed`` when a required call fails.
    /// Placeholders that name another call read that call's result, if it was fetched before.
    public func fetch(_ name: String) async throws -> JSONValue {
        guard let call = plan.calls.first(where: { $0.name == name }) else {
            preconditionFailure("call '\(name)' is not declared on \(plan.route)")
        }
        let known = outcomes.withLock { $0 }
        var outcome: CallOutcome
        do {
            let target = try call.target.render(inputs: inputs, restCapture: plan.route.restCapture) { known[$0]?.value }
            var headers = HTTPHeaders()
            if !inputs.requestID.isEmpty { headers.add(name: "x-request-id", value: inputs.requestID) }
            for (name, value) in inputs.identityHeaders { headers.replaceOrAdd(name: name, value: value) }
            let callDeadline = min(deadline, .now() + .nanoseconds(call.timeout.nanosecondsValue))
            let span = inputs.trace?.startCall(name, service: call.service.name)
            span?.addHeaders(to: &headers)
            defer { span?.end(outcome) }
            outcome = await runner.run(
                call,
                target: target,
                headers: headers,
                inputs: inputs,
                deadline: callDeadline,
                parse: true,
                cache: cache,
                eventLoop: eventLoop
            )
        } catch {
            outcome = .failed(.skipped, milliseconds: 0, fallback: call.fallback, reason: "an input from another call is missing")
        }
        let recorded = outcome
        outcomes.withLock { $0[name] = recorded }
        if call.required && !outcome.hasServiceData {
            throw RequiredCallFailed(call: name, status: outcome.status, outcomes: report(), readsRequest: call.readsRequest)
        }
        return outcome.value ?? .null
    }

    /// Runs the declared call `name` and decodes its JSON as `T`; nil when an optional call failed
    /// with no fallback.
    public func fetch<T: Decodable>(_ name: String, as type: T.Type) async throws -> T? {
        let value = try await fetch(name)
        if value == .null { return nil }
        var bytes: [UInt8] = []
        value.write(to: &bytes)
        return try JSONDecoder().decode(T.self, from: Data(bytes))
    }

    /// Every declared call's outcome so far, in declaration order; calls never fetched are skipped.
    func report() -> [(String, CallOutcome)] {
        let known = outcomes.withLock { $0 }
        return plan.calls.map { call in
            (call.name, known[call.name] ?? .failed(.skipped, milliseconds: 0, fallback: call.fallback, reason: "not fetched"))
        }
    }
}

/// Runs a ``SwiftEndpoint`` and wraps its answer like any aggregation.
struct SwiftEndpointHandler: EndpointHandler {
    let plan: CompiledPlan
    let runner: CallRunner
    var cache: CacheRuntime? = nil
    let handler: SwiftEndpoint.Handler

    func handle(_ request: Request, context: BFFRequestContext, captures: [String: String]) async throws -> Response {
        let inputs = RequestInputs(request: request, context: context, captures: captures)
        try plan.requireValidInputs(inputs)
        let endpointContext = SwiftEndpointContext(inputs: inputs, plan: plan, runner: runner, cache: cache, eventLoop: context.eventLoop)
        let value: JSONValue
        do {
            value = try await handler(endpointContext)
        } catch let failure as RequiredCallFailed {
            context.noteOutcomes(route: plan.route.path, failure.outcomes)
            throw failure.problem
        }
        let report = endpointContext.report()
        let names = plan.callNames
        let outcomes = report.map(\.1)
        context.noteOutcomes(route: plan.route.path, report)
        var buffer = ByteBuffer()
        value.write(to: &buffer)
        var contentBytes = buffer.readableBytes
        if case .object = value {
            buffer.moveWriterIndex(to: buffer.writerIndex - 1)
            contentBytes = buffer.readableBytes
            if buffer.readableBytes > 1 { buffer.writeStaticString(",") }
            buffer.writeStaticString("\"_meta\":")
            ResponseComposer.writeMeta(names: names, outcomes: outcomes, to: &buffer)
            buffer.writeStaticString("}")
        }
        return AggregateResponse.make(
            body: buffer,
            entityTag: AggregateResponse.entityTag(buffer, contentBytes: contentBytes, outcomes: outcomes),
            names: names,
            outcomes: outcomes,
            ifNoneMatch: request.headers[.ifNoneMatch]
        )
    }
}
