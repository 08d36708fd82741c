import BFFSpec
import HTTPTypes
import NIOHTTP1

/// One call of a plan, ready to run: service resolved, templates compiled, edges as indices.
/// A class, so the request path shares one instance instead of copying every field.
final class CompiledCall: Sendable {
    let index: Int
    let name: String
    let service: ServiceCluster
    let target: CompiledTemplate
    let headers: [(name: String, value: CompiledTemplate)]
    let timeout: Duration
    let required: Bool
    let fallback: JSONValue?
    let hedge: HedgeSpec?
    /// How the service's answers are reused; nil stores none.
    let cache: CacheSpec?
    /// Indices of the calls this one reads from.
    let dependencies: [Int]
    /// Indices of the calls that read from this one.
    let dependents: [Int]
    /// Whether this call's JSON must be parsed (read by another call, or shaped in the response).
    let needsParsedBody: Bool
    /// The method and message of a call to a gRPC service; nil for an HTTP call.
    let grpc: GRPCCallPlan?
    /// Whether its path, body or headers carry values of the request (captures, query, headers): a
    /// service that refuses such a call with 400 or 422 is refusing the client's values.
    let readsRequest: Bool

    init(
        index: Int, name: String, service: ServiceCluster, target: CompiledTemplate, headers: [(name: String, value: CompiledTemplate)],
        timeout: Duration, required: Bool, fallback: JSONValue?, hedge: HedgeSpec?, cache: CacheSpec?, dependencies: [Int], dependents: [Int],
        needsParsedBody: Bool, grpc: GRPCCallPlan?, readsRequest: Bool = false
    ) {
        self.readsRequest = readsRequest
        self.index = index
        self.name = name
        self.service = service
        self.target = target
        self.headers = headers
        self.timeout = timeout
        self.required = required
        self.fallback = fallback
        self.hedge = hedge
        self.cache = cache
        self.dependencies = dependencies
        self.dependents = dependents
        self.needsParsedBody = needsParsedBody
        self.grpc = grpc
    }
}

/// An aggregation compiled once at start-up from its spec: the DAG, the compiled templates and
/// the response shape. Executing it never consults the spec again. A class, so each request holds
/// it with one reference count instead of a copy of every field.
final class CompiledPlan: Sendable {
    let route: RoutePattern
    let timeout: Duration
    let calls: [CompiledCall]
    let callNames: CallNames
    let output: ResponseShape
    let includeMeta: Bool
    /// Calls with no dependencies: they start at once.
    let roots: [Int]

    init(route: RoutePattern, timeout: Duration, aggregate: AggregateSpec, services: [String: ServiceCluster]) {
        self.route = route
        self.timeout = timeout
        includeMeta = aggregate.meta
        let graph = CallGraph(calls: aggregate.calls)
        let output = ResponseShape(aggregate: aggregate)
        let parsedAnswers = Self.parsedAnswers(graph: graph, output: output)
        calls = aggregate.calls.enumerated().map { index, call in
            let service = services[call.service]!
            return CompiledCall(
                index: index,
                name: call.name,
                service: service,
                target: CompiledTemplate(call.path),
                headers: call.headers.map { ($0.name, CompiledTemplate($0.value)) },
                timeout: call.timeout ?? service.timeout,
                required: call.required,
                fallback: call.fallback,
                hedge: call.hedge,
                cache: call.cache,
                dependencies: graph.dependencies[index],
                dependents: graph.dependents[index],
                needsParsedBody: parsedAnswers[index],
                grpc: call.method.flatMap { name in service.grpc.flatMap { GRPCMethod(name, in: $0) } }.map {
                    GRPCCallPlan(method: $0, body: call.body.map(CompiledMessage.init))
                },
                readsRequest: call.variables.contains { variable in
                    switch variable.source {
                    case .path, .query, .header: true
                    default: false
                    }
                }
            )
        }
        roots = calls.filter { $0.dependencies.isEmpty }.map(\.index)
        callNames = CallNames(calls.map(\.name))
        self.output = output
    }

    /// For each call, whether its answer is parsed rather than only validated: another call reads
    /// it (`{user.tier}`), or a response section takes a path, fields or a limit of it.
    static func parsedAnswers(graph: CallGraph, output: ResponseShape) -> [Bool] {
        let shapedCalls = Set(output.fields.filter { !$0.isPassThrough }.map(\.callIndex))
        return graph.dependents.indices.map { !graph.dependents[$0].isEmpty || shapedCalls.contains($0) }
    }

    /// Refuses bad request input (missing values, dot segments) before any call starts.
    func validate(_ inputs: RequestInputs) throws(TemplateFillError) {
        for call in calls {
            try call.target.validateRequestInputs(inputs, restCapture: route.restCapture)
            for header in call.headers { try header.value.validateRequestInputs(inputs, restCapture: route.restCapture) }
            if let body = call.grpc?.body { try body.validateRequestInputs(inputs) }
        }
    }
}
