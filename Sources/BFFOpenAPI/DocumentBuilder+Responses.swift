import BFFSpec
import OpenAPIKit

extension DocumentBuilder {
    /// Every answer a route can give: its body, 304 for a composed one, and each problem the
    /// gateway answers on the route's behalf.
    mutating func responses(_ route: RouteDescription, limited: Bool) throws(OpenAPIDocumentError) -> OpenAPI.Response.Map {
        var responses: OpenAPI.Response.Map = [:]
        let rateHeaders = limited ? Self.rateLimitHeaders : [:]
        switch route.body {
        case .aggregate, .handler:
            var headers = Self.composedHeaders + rateHeaders
            if route.cache != nil { headers["Age"] = .b(OpenAPI.Header(schema: .integer, description: "Seconds since a stored body was composed.")) }
            responses[200] = .b(OpenAPI.Response(description: "The composed answer.", headers: headers, content: [.json: .b(OpenAPI.Content(schema: try body(route)))]))
            responses[304] = .b(OpenAPI.Response(description: "Not modified: If-None-Match names the current ETag.", headers: Self.composedHeaders))
            responses[400] = .b(problem("A request value the calls read is missing or malformed, a required call's service refused a value of the request (400 or 422), or credentials were sent in the query string."))
        case .proxy(let service, let websocket):
            if websocket {
                responses[101] = .b(OpenAPI.Response(description: "Switching Protocols: the WebSocket is proxied to service '\(service)'."))
            } else {
                responses[.default] = .b(OpenAPI.Response(description: "Whatever service '\(service)' answers, passed through."))
            }
        }
        if let auth = route.auth {
            if !auth.isPublic {
                let jwt = auth.methods.contains(.jwt)
                let headers: OpenAPI.Header.Map = jwt ? ["WWW-Authenticate": .b(OpenAPI.Header(schema: .string, description: "Bearer realm=\"...\"."))] : [:]
                responses[401] = .b(problem(jwt ? "No valid bearer token." : "No valid API key.", headers: headers))
            }
            let plans = auth.methods.contains(.apiKey) && !spec.edge.plans.isEmpty
            if !auth.roles.isEmpty || !auth.scopes.isEmpty || !auth.tlsSubjects.isEmpty || plans {
                responses[403] = .b(problem("The caller lacks a role, scope, accepted client certificate or plan the route needs."))
            }
        }
        if limited {
            responses[429] = .b(problem("Over a rate limit or quota; retry after Retry-After seconds.", headers: Self.rateLimitHeaders + Self.retryAfter))
        }
        if let unavailable = unavailability(route, limited: limited) {
            responses[503] = .b(problem(unavailable, headers: Self.retryAfter))
        }
        if route.body.failsWithCalls {
            responses[404] = .b(problem("A required call's service answered 404: what the route is about does not exist."))
            responses[410] = .b(problem("A required call's service answered 410: what the route is about is gone."))
            responses[502] = .b(problem("A required call failed; `calls` says how each call ended."))
            responses[504] = .b(problem("A required call timed out."))
        } else if case .proxy(let service, _) = route.body {
            responses[502] = .b(problem("Service '\(service)' is unreachable or failed."))
            responses[504] = .b(problem("Service '\(service)' did not answer in time."))
        }
        return responses
    }

    /// Why a route may answer 503: a required call's service behind an open circuit breaker, or a
    /// rate-limit store that is down with `on_store_error: deny`.
    private func unavailability(_ route: RouteDescription, limited: Bool) -> String? {
        var reasons: [String] = []
        let broken = route.body.calls.filter { $0.required && spec.services[$0.service]?.circuitBreaker != nil }
        if !broken.isEmpty { reasons.append("the service of a required call (\(broken.map(\.name).joined(separator: ", "))) is failing and not being called for now") }
        if limited, case .redis = spec.edge.rateLimits.store, spec.edge.rateLimits.onStoreError == .deny {
            reasons.append("rate limiting is unavailable")
        }
        return reasons.isEmpty ? nil : "Unavailable for now: \(reasons.joined(separator: ", or ")); retry after Retry-After seconds."
    }

    private func problem(_ description: String, headers: OpenAPI.Header.Map = [:]) -> OpenAPI.Response {
        OpenAPI.Response(
            description: description,
            headers: headers.isEmpty ? nil : headers,
            content: [Self.problemJSON: .b(OpenAPI.Content(schema: .reference(.component(named: GatewaySchemas.problemName))))]
        )
    }

    private static let problemJSON = OpenAPI.ContentType(rawValue: "application/problem+json")!

    private static let composedHeaders: OpenAPI.Header.Map = [
        "ETag": .b(OpenAPI.Header(schema: .string, description: "Of the sections, not of `_meta`: send it back in If-None-Match.")),
        "Cache-Control": .b(OpenAPI.Header(schema: .string, description: "private, no-cache: keep a copy and revalidate it.")),
        "X-BFF-Degraded": .b(OpenAPI.Header(schema: .string(allowedValues: "true", "false"), description: "true when a call failed and its section holds its fallback.")),
        "Server-Timing": .b(OpenAPI.Header(schema: .string, description: "Each call's time and status: user;dur=2.1;desc=\"ok\".")),
    ]

    private static let rateLimitHeaders: OpenAPI.Header.Map = [
        "RateLimit-Limit": .b(OpenAPI.Header(schema: .integer, description: "Requests the tightest limit allows.")),
        "RateLimit-Remaining": .b(OpenAPI.Header(schema: .integer, description: "Requests left under it.")),
        "RateLimit-Reset": .b(OpenAPI.Header(schema: .integer, description: "Seconds until it is full again.")),
    ]

    private static let retryAfter: OpenAPI.Header.Map = [
        "Retry-After": .b(OpenAPI.Header(schema: .integer, description: "Seconds to wait before trying again."))
    ]

    // MARK: Sections

    /// The 200 body: a property per section, then `_meta`.
    private mutating func body(_ route: RouteDescription) throws(OpenAPIDocumentError) -> JSONSchema {
        switch route.body {
        case .aggregate(let aggregate):
            let fields = aggregate.response ?? aggregate.calls.map { ResponseFieldSpec(key: $0.name, call: $0.name, location: $0.location) }
            var properties: [(String, JSONValue)] = []
            for field in fields {
                guard let call = aggregate.calls.first(where: { $0.name == field.call }) else { continue }
                properties.append((field.key, try section(field, call: call)))
            }
            if aggregate.meta { properties.append(("_meta", GatewaySchemas.meta(calls: aggregate.calls.map(\.name), complete: true))) }
            let schema: JSONValue = [
                "type": "object",
                "properties": .object(properties),
                "required": .array(properties.map { .string($0.0) }),
                "additionalProperties": false,
            ]
            return try Self.jsonSchema(schema, at: nil)
        case .handler(let calls):
            let schema: JSONValue = [
                "type": "object",
                "description": "The object the route's Swift handler builds.",
                "properties": ["_meta": GatewaySchemas.meta(calls: calls.map(\.name), complete: false)],
                "required": ["_meta"],
            ]
            return try Self.jsonSchema(schema, at: nil)
        case .proxy:
            return .fragment
        }
    }

    /// One section's schema: the call's (its own `schema:`, else its service's document), narrowed
    /// as the response field narrows the result.
    private mutating func section(_ field: ResponseFieldSpec, call: CallSpec) throws(OpenAPIDocumentError) -> JSONValue {
        let (source, location) = schemaSource(of: call)
        var scoped = source.at(field.path)
        if let fields = field.fields { scoped = scoped.keeping(fields) }
        if let limit = field.limit { scoped = scoped.limited(to: limit) }
        let schema = serviceSchemas.export(scoped)
        _ = try Self.jsonSchema(schema, at: location, what: "the schema of call '\(call.name)'")
        var words = ["From call '\(call.name)' to service '\(call.service)'"]
        if !field.path.isEmpty { words.append("at \(field.path.joined(separator: "."))") }
        if let fields = field.fields { words.append("with the fields \(fields.joined(separator: ", "))") }
        if let limit = field.limit { words.append("at most \(limit) of them") }
        var description = words.joined(separator: ", ") + "."
        if !call.required {
            description += call.fallback == nil ? " Null when the call fails." : " Its fallback when the call fails."
        }
        let nullable = !call.required && call.fallback == nil
        return Self.described(nullable ? Self.nullable(schema) : schema, description)
    }

    /// `schema` with `description`, which a `$ref` cannot carry beside it in every reader.
    private static func described(_ schema: JSONValue, _ description: String) -> JSONValue {
        switch schema {
        case .object(let members) where schema["$ref"] == nil:
            return .object(members.filter { $0.0 != "description" } + [("description", .string(description))])
        case .object:
            return ["description": .string(description), "allOf": [schema]]
        default:
            return ["description": .string(description)]
        }
    }

    /// `schema` also admitting null, for an optional call without a fallback. Only a schema with
    /// one type says so (`type: [integer, "null"]`); OpenAPIKit would write a null alternative of
    /// `anyOf` as a type of the whole.
    private static func nullable(_ schema: JSONValue) -> JSONValue {
        guard case .object(let members) = schema, case .string(let type)? = schema["type"], schema["enum"] == nil else { return schema }
        return .object(members.map { $0.0 == "type" ? ("type", [.string(type), "null"]) : $0 })
    }

    /// Where a call's result schema comes from, and where to point at when it is unreadable.
    private func schemaSource(of call: CallSpec) -> (ScopedSchema, SourceLocation) {
        if let schema = call.schema { return (ScopedSchema(schema: schema, origin: nil), call.location) }
        guard call.method == nil, let service = spec.services[call.service], let document = service.openAPI,
            let schema = document.operation(method: "GET", path: call.path)?.responseSchema
        else { return (.unknown, call.location) }
        return (ScopedSchema(schema: schema, origin: .init(service: service.name, document: document)), document.location)
    }
}

extension OpenAPI.Header.Map {
    /// Both maps' headers, `other`'s winning.
    static func + (map: Self, other: Self) -> Self {
        var combined = map
        for (name, header) in other { combined[name] = header }
        return combined
    }
}

extension RouteDescription.Body {
    /// Whether a failed call can fail the whole answer (502 or 504): a required call, or a handler's.
    var failsWithCalls: Bool {
        switch self {
        case .aggregate(let aggregate): aggregate.calls.contains(where: \.required)
        case .handler: true
        case .proxy: false
        }
    }
}
