public import BFFSpec

/// One route as the OpenAPI document describes it: a spec endpoint, or a route declared in Swift
/// that the runtime describes the same way.
///
/// ```swift
/// let summary = RouteDescription(
///     route: try RoutePattern.parse("GET /products/{id}/summary"),
///     summary: "The product with its average rating",
///     auth: EndpointAuthSpec(methods: [.none]),
///     body: .handler(calls: calls)
/// )
/// ```
public struct RouteDescription: Sendable {
    /// What the route answers with.
    public enum Body: Sendable {
        /// The sections an aggregation composes (`response:`, or one per call) and `_meta`.
        case aggregate(AggregateSpec)
        /// A JSON object a Swift handler builds from these calls, with `_meta`.
        case handler(calls: [CallSpec])
        /// Whatever the service answers, passed through; a WebSocket route only upgrades.
        case proxy(service: String, websocket: Bool)
    }

    /// A query parameter or request header the route's calls read.
    public struct Input: Sendable, Hashable {
        public var name: String
        /// What the templates use when the request leaves it out; nil makes it required.
        public var defaultValue: String?

        public init(name: String, defaultValue: String? = nil) {
            self.name = name
            self.defaultValue = defaultValue
        }
    }

    public var route: RoutePattern
    public var summary: String?
    /// Who may call it; nil on a BFF without auth.
    public var auth: EndpointAuthSpec?
    /// The route's own limits; the BFF-wide ones and API-key plans are added from the spec.
    public var rateLimits: [RateLimitSpec]
    /// Reuse of the composed body, for the `Age` header and the description.
    public var cache: CacheSpec?
    public var query: [Input]
    public var headers: [Input]
    public var body: Body

    /// - Parameters:
    ///   - query: the query parameters; nil reads them off the body's call templates.
    ///   - headers: the request headers; nil reads them off the body's call templates.
    public init(
        route: RoutePattern,
        summary: String? = nil,
        auth: EndpointAuthSpec? = nil,
        rateLimits: [RateLimitSpec] = [],
        cache: CacheSpec? = nil,
        body: Body,
        query: [Input]? = nil,
        headers: [Input]? = nil
    ) {
        let read = Self.inputs(of: body.calls)
        self.route = route
        self.summary = summary
        self.auth = auth
        self.rateLimits = rateLimits
        self.cache = cache
        self.body = body
        self.query = query ?? read.query
        self.headers = headers ?? read.headers
    }

    /// A spec endpoint.
    public init(_ endpoint: EndpointSpec) {
        let body: Body
        switch endpoint.kind {
        case .aggregate(let aggregate): body = .aggregate(aggregate)
        case .proxy(let proxy): body = .proxy(service: proxy.service, websocket: proxy.websocket != nil)
        }
        self.init(route: endpoint.route, auth: endpoint.auth, rateLimits: endpoint.rateLimits, cache: endpoint.cache, body: body)
    }

    /// The query parameters and headers `calls` read, in the order first read. A value is
    /// required unless every template reading it gives a default (a missing one is a 400).
    static func inputs(of calls: [CallSpec]) -> (query: [Input], headers: [Input]) {
        var query = InputList(), headers = InputList()
        for variable in calls.flatMap(\.variables) {
            switch variable.source {
            case .query(let name): query.add(name, defaultValue: variable.defaultValue)
            case .header(let name): headers.add(name, defaultValue: variable.defaultValue)
            default: break
            }
        }
        return (query.inputs, headers.inputs)
    }

    private struct InputList {
        var inputs: [Input] = []
        var required: Set<String> = []

        mutating func add(_ name: String, defaultValue: String?) {
            if defaultValue == nil { required.insert(name) }
            if let index = inputs.firstIndex(where: { $0.name == name }) {
                if required.contains(name) { inputs[index].defaultValue = nil }
            } else {
                inputs.append(Input(name: name, defaultValue: defaultValue))
            }
        }
    }
}

extension RouteDescription.Body {
    var calls: [CallSpec] {
        switch self {
        case .aggregate(let aggregate): aggregate.calls
        case .handler(let calls): calls
        case .proxy: []
        }
    }
}
