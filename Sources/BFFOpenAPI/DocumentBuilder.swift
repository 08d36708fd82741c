import BFFSpec
import Foundation
import OpenAPIKit

/// Collects a BFF's operations, and the schemas and security schemes they refer to, into one document.
struct DocumentBuilder {
    let spec: ClientSpec
    private var paths: [(path: String, item: OpenAPI.PathItem)] = []
    var serviceSchemas = ServiceSchemas()
    private var schemes: Set<Scheme> = []

    /// The security schemes a route may name, by their component names.
    enum Scheme: String, CaseIterable {
        case bearer = "bearerAuth"
        case apiKey = "apiKeyAuth"
        case mutualTLS
    }

    init(spec: ClientSpec) {
        self.spec = spec
    }

    mutating func add(_ route: RouteDescription) throws(OpenAPIDocumentError) {
        let path = Self.openAPIPath(route.route)
        if !paths.contains(where: { $0.path == path }) { paths.append((path, OpenAPI.PathItem())) }
        for method in Self.methods(route.route.method) {
            let operation = try operation(route, method: method)
            paths[paths.firstIndex { $0.path == path }!].item.set(operation: operation, for: .builtin(method))
        }
    }

    func document(version: String, servers: [String]) throws(OpenAPIDocumentError) -> OpenAPI.Document {
        var urls: [OpenAPI.Server] = []
        for server in servers {
            guard let url = URL(string: server), url.scheme != nil || server.hasPrefix("/") else {
                throw OpenAPIDocumentError(location: nil, message: "server '\(server)' is not a URL", hint: "give a base URL such as https://api.example.com")
            }
            urls.append(OpenAPI.Server(url: url))
        }
        var schemas: OpenAPI.ComponentDictionary<JSONSchema> = [
            OpenAPI.ComponentKey(stringLiteral: GatewaySchemas.problemName): try Self.jsonSchema(GatewaySchemas.problem, at: nil),
            OpenAPI.ComponentKey(stringLiteral: GatewaySchemas.callReportName): try Self.jsonSchema(GatewaySchemas.callReport, at: nil),
        ]
        for component in serviceSchemas.components {
            let location = component.origin.document.location
            schemas[OpenAPI.ComponentKey(stringLiteral: component.key)] = try Self.jsonSchema(component.schema, at: location, what: "schema '\(component.key)' of \(component.origin.document.file)")
        }
        var securitySchemes: OpenAPI.ComponentReferenceDictionary<OpenAPI.SecurityScheme> = [:]
        for scheme in Scheme.allCases where schemes.contains(scheme) {
            securitySchemes[OpenAPI.ComponentKey(stringLiteral: scheme.rawValue)] = .b(securityScheme(scheme))
        }
        var pathMap: OpenAPI.PathItem.Map = [:]
        for (path, item) in paths { pathMap[OpenAPI.Path(rawValue: path)] = .b(item) }
        return OpenAPI.Document(
            openAPIVersion: .v3_1_1,
            info: OpenAPI.Document.Info(
                title: "\(spec.name) BFF",
                description: "The routes of the '\(spec.name)' backend-for-frontend, from \((spec.file as NSString).lastPathComponent). Every error is an application/problem+json Problem.",
                version: version
            ),
            servers: urls,
            paths: pathMap,
            components: OpenAPI.Components(schemas: schemas, securitySchemes: securitySchemes)
        )
    }

    // MARK: Operations

    private mutating func operation(_ route: RouteDescription, method: OpenAPI.BuiltinHttpMethod) throws(OpenAPIDocumentError) -> OpenAPI.Operation {
        var notes: [String] = []
        var extensions: [String: AnyCodable] = [:]
        let security = security(of: route.auth)
        if let auth = route.auth {
            if !auth.roles.isEmpty {
                notes.append("Needs one of the roles: \(auth.roles.joined(separator: ", ")).")
                extensions["x-required-roles"] = AnyCodable(auth.roles)
            }
            if !auth.scopes.isEmpty {
                notes.append("Needs all of the scopes: \(auth.scopes.joined(separator: " ")).")
                extensions["x-required-scopes"] = AnyCodable(auth.scopes)
            }
            if !auth.tlsSubjects.isEmpty {
                notes.append("Needs a client certificate with one of the subjects: \(auth.tlsSubjects.joined(separator: "; ")).")
            }
        }
        let limits = rateLimits(of: route)
        if !limits.isEmpty {
            notes.append("Rate limited: \(limits.joined(separator: "; ")).")
            extensions["x-rate-limits"] = AnyCodable(limits)
        }
        if let cache = route.cache {
            let ttl = cache.ttl.map { "\(Self.seconds($0)) s" } ?? "as long as the services allow"
            notes.append("The composed body is stored for \(ttl), \(cache.shared ? "one copy for every caller" : "per caller").")
        }
        return OpenAPI.Operation(
            summary: route.summary ?? Self.summary(route),
            description: notes.isEmpty ? nil : notes.joined(separator: "\n\n"),
            operationId: Self.operationID(route.route, method: method),
            parameters: parameters(route),
            responses: try responses(route, limited: !limits.isEmpty),
            security: security,
            vendorExtensions: extensions
        )
    }

    private func parameters(_ route: RouteDescription) -> OpenAPI.Parameter.Array {
        var parameters: OpenAPI.Parameter.Array = []
        for segment in route.route.segments {
            switch segment {
            case .literal: break
            case .capture(let name):
                parameters.append(.b(.path(name: name, schema: .string)))
            case .rest(let name):
                parameters.append(.b(.path(name: name, schema: .string, description: "The rest of the path, slashes included.")))
            }
        }
        for input in route.query {
            parameters.append(.b(.query(name: input.name, required: input.defaultValue == nil, schema: Self.inputSchema(input))))
        }
        let credentialHeaders = ["authorization", spec.edge.auth?.apiKeys?.header.lowercased()]
        for input in route.headers where !credentialHeaders.contains(input.name.lowercased()) {
            parameters.append(.b(.header(name: input.name, required: input.defaultValue == nil, schema: Self.inputSchema(input))))
        }
        if route.body.composes {
            parameters.append(.b(.header(name: "If-None-Match", schema: .string, description: "An ETag of an earlier answer: 304 when the answer is still the same.")))
        }
        return parameters
    }

    private static func inputSchema(_ input: RouteDescription.Input) -> JSONSchema {
        .string(required: input.defaultValue == nil, defaultValue: input.defaultValue.map { AnyCodable($0) })
    }

    // MARK: Security

    /// The ways in a route accepts, any one of which suffices; nil on a BFF without auth.
    private mutating func security(of auth: EndpointAuthSpec?) -> [OpenAPI.SecurityRequirement]? {
        guard let auth else { return nil }
        var alternatives: [OpenAPI.SecurityRequirement] = []
        if auth.isPublic {
            alternatives = [[:]]
        } else {
            for method in auth.methods {
                switch method {
                case .jwt:
                    schemes.insert(.bearer)
                    alternatives.append([.component(named: Scheme.bearer.rawValue): auth.scopes])
                case .apiKey:
                    schemes.insert(.apiKey)
                    alternatives.append([.component(named: Scheme.apiKey.rawValue): []])
                case .none:
                    break
                }
            }
        }
        if !auth.tlsSubjects.isEmpty {
            schemes.insert(.mutualTLS)
            alternatives = alternatives.map { $0.merging([.component(named: Scheme.mutualTLS.rawValue): []]) { $1 } }
        }
        return alternatives == [[:]] ? [] : alternatives
    }

    private func securityScheme(_ scheme: Scheme) -> OpenAPI.SecurityScheme {
        switch scheme {
        case .bearer:
            let jwt = spec.edge.auth?.jwt
            var claims: [String] = []
            if let issuer = jwt?.issuer { claims.append("issuer \(issuer)") }
            if let audience = jwt?.audience { claims.append("audience \(audience)") }
            let checked = claims.isEmpty ? "" : ", for \(claims.joined(separator: " and "))"
            return .http(scheme: "bearer", bearerFormat: "JWT", description: "A signed JWT in Authorization: Bearer\(checked). Roles come from its '\(jwt?.rolesClaim ?? "roles")' claim, scopes from '\(jwt?.scopesClaim ?? "scope")'.")
        case .apiKey:
            let header = spec.edge.auth?.apiKeys?.header ?? APIKeySpec.defaultHeader
            return .apiKey(name: header, location: .header, description: "An API key issued to the partner; its plan sets the partner's rate and quotas.")
        case .mutualTLS:
            return .mutualTLS(description: "A client certificate the listener's client CA verifies.")
        }
    }

    // MARK: Limits

    /// Each limit a route's requests count against, in words: the BFF's, the route's own, and for
    /// API keys their plans'.
    private func rateLimits(of route: RouteDescription) -> [String] {
        var limits = (spec.edge.rateLimits.limits + route.rateLimits).map { limit in
            "\(limit.rate) \(Self.describe(limit.key)) (burst \(limit.burst))"
        }
        if route.auth?.methods.contains(.apiKey) == true {
            for plan in spec.edge.plans.values.sorted(by: { $0.name < $1.name }) where plan.rate != nil || !plan.quotas.isEmpty {
                var terms = plan.rate.map { ["\($0) (burst \(plan.burst ?? $0.count))"] } ?? []
                terms += plan.quotas.map { "\($0.count) a \($0.window.rawValue)" }
                limits.append("plan \(plan.name): \(terms.joined(separator: ", ")) per API key")
            }
        }
        return limits
    }

    private static func describe(_ key: RateLimitKey) -> String {
        switch key {
        case .ip: "per client address"
        case .user: "per user"
        case .apiKey: "per API key"
        case .header(let name): "per value of the \(name) header"
        }
    }

    // MARK: Names

    /// `/dashboard/{userId}` for `GET /dashboard/{userId}`, `/users/{rest}` for `/users/{rest*}`.
    static func openAPIPath(_ route: RoutePattern) -> String {
        let segments = route.segments.map { segment in
            switch segment {
            case .literal(let text): text
            case .capture(let name), .rest(let name): "{\(name)}"
            }
        }
        return "/" + segments.joined(separator: "/")
    }

    /// The methods a route answers; `*` (proxies) answers every one but TRACE.
    private static func methods(_ method: String) -> [OpenAPI.BuiltinHttpMethod] {
        if method == "*" { return [.get, .put, .post, .delete, .options, .head, .patch] }
        return OpenAPI.BuiltinHttpMethod(rawValue: method).map { [$0] } ?? []
    }

    /// `get_dashboard_userId`: unique, since the loader refuses overlapping routes.
    private static func operationID(_ route: RoutePattern, method: OpenAPI.BuiltinHttpMethod) -> String {
        let words = route.segments.map { segment in
            switch segment {
            case .literal(let text): text
            case .capture(let name), .rest(let name): name
            }
        }
        let id = ([method.rawValue.lowercased()] + (words.isEmpty ? ["root"] : words)).joined(separator: "_")
        return String(id.map { (character: Character) -> Character in character.isLetter || character.isNumber ? character : "_" })
    }

    private static func summary(_ route: RouteDescription) -> String {
        switch route.body {
        case .aggregate(let aggregate): "Composes \(aggregate.calls.map(\.name).joined(separator: ", "))"
        case .handler(let calls): calls.isEmpty ? "Answered in Swift" : "Answered in Swift from \(calls.map(\.name).joined(separator: ", "))"
        case .proxy(let service, let websocket): websocket ? "WebSocket proxied to \(service)" : "Proxied to \(service)"
        }
    }

    static func seconds(_ duration: Duration) -> Int64 {
        duration.components.seconds
    }

    // MARK: Schemas

    /// A schema written as JSON, read by OpenAPIKit.
    /// - Parameter what: names the schema in the message when OpenAPIKit cannot read it.
    static func jsonSchema(_ value: JSONValue, at location: SourceLocation?, what: String = "a gateway schema") throws(OpenAPIDocumentError) -> JSONSchema {
        var bytes: [UInt8] = []
        value.write(to: &bytes)
        do {
            return try JSONDecoder().decode(JSONSchema.self, from: Data(bytes))
        } catch {
            throw OpenAPIDocumentError(
                location: location,
                message: "\(what) is not a JSON Schema OpenAPI can hold: \(OpenAPI.Error(from: error).localizedDescription)",
                hint: "fix the schema (JSON Schema 2020-12, as OpenAPI 3.1 writes it)"
            )
        }
    }
}

extension RouteDescription.Body {
    /// Whether the gateway composes the body (with an ETag and `_meta`), rather than passing a service's through.
    var composes: Bool {
        if case .proxy = self { return false }
        return true
    }
}
