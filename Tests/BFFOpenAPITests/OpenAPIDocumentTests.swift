import BFFOpenAPI
import BFFSpec
import Foundation
import Testing

/// The OpenAPI documents of the shipped specs and of the fixtures: valid per openapi-spec-validator,
/// and saying what the specs say.
@Suite struct OpenAPIDocumentTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    static func document(_ file: URL, extraRoutes: [RouteDescription] = []) throws -> (json: Data, value: JSONValue) {
        let spec = try SpecLoader.load(file: file.path)
        let json = try OpenAPIDocument.jsonData(for: spec, extraRoutes: extraRoutes, version: "1.0.0", servers: ["https://bff.example.com"])
        return (json, try JSONParser.parse([UInt8](json)))
    }

    static func document(yaml: String) throws -> JSONValue {
        let spec = try SpecLoader.load(yaml: yaml, file: "inline.yaml")
        return try JSONParser.parse([UInt8](try OpenAPIDocument.jsonData(for: spec, version: "1")))
    }

    /// openapi-spec-validator's findings for `json`; empty when it is valid.
    static func validatorFindings(_ json: Data) throws -> String? {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("bff-openapi-\(UUID().uuidString).json")
        try json.write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", repository.appendingPathComponent("Tests/Scripts/validate_openapi.py").path, file.path]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return process.terminationStatus == 0 ? nil : "exit \(process.terminationStatus): \(text)"
    }

    static func operation(_ document: JSONValue, _ path: String, _ method: String = "get") -> JSONValue? {
        document.value(at: ["paths", path, method])
    }

    static func parameter(_ operation: JSONValue?, _ name: String, in location: String) -> JSONValue? {
        guard case .array(let parameters)? = operation?["parameters"] else { return nil }
        return parameters.first { $0["name"] == .string(name) && $0["in"] == .string(location) }
    }

    @Test("every shipped spec's document is valid OpenAPI 3.1", arguments: ["mobile", "web", "partner", "admin"])
    func shippedSpecIsValid(name: String) throws {
        let (json, document) = try Self.document(Self.repository.appendingPathComponent("bff-specs/\(name).yaml"))
        #expect(document["openapi"] == "3.1.1")
        #expect(document.value(at: ["info", "title"]) == .string("\(name) BFF"))
        #expect(try Self.validatorFindings(json) == nil)
    }

    @Test("the fixture's document, with service documents and a Swift route, is valid OpenAPI 3.1")
    func fixtureIsValid() throws {
        let extra = RouteDescription(route: try RoutePattern.parse("GET /summary/{id}"), summary: "A summary made in Swift", body: .handler(calls: []))
        let (json, document) = try Self.document(Self.fixtures.appendingPathComponent("catalog.yaml"), extraRoutes: [extra])
        #expect(try Self.validatorFindings(json) == nil)
        #expect(Self.operation(document, "/summary/{id}")?["summary"] == "A summary made in Swift")
    }

    @Test("route captures are required path parameters in {name} form, a rest capture too")
    func pathParameters() throws {
        let (_, web) = try Self.document(Self.repository.appendingPathComponent("bff-specs/web.yaml"))
        let userID = Self.parameter(Self.operation(web, "/dashboard/{userId}"), "userId", in: "path")
        #expect(userID?["required"] == true)
        #expect(userID?.value(at: ["schema", "type"]) == "string")
        #expect(Self.parameter(Self.operation(web, "/api/products/{rest}"), "rest", in: "path")?["required"] == true)
    }

    @Test("a query value a template reads with a default is optional with that default; without one it is required")
    func queryParameters() throws {
        let (_, web) = try Self.document(Self.repository.appendingPathComponent("bff-specs/web.yaml"))
        let orders = Self.parameter(Self.operation(web, "/dashboard/{userId}"), "orders", in: "query")
        #expect(orders?["required"] == nil)
        #expect(orders?.value(at: ["schema", "default"]) == "10")
        let document = try Self.document(
            yaml: """
                name: t
                services: { s: { url: "http://127.0.0.1:9" } }
                endpoints:
                  - route: GET /search
                    calls:
                      hits: { service: s, path: "/search?q={query.q}&lang={header.accept-language:en}" }
                """
        )
        #expect(Self.parameter(Self.operation(document, "/search"), "q", in: "query")?["required"] == true)
        #expect(Self.parameter(Self.operation(document, "/search"), "accept-language", in: "header")?.value(at: ["schema", "default"]) == "en")
    }

    @Test("bearer routes name the JWT scheme, API-key routes the key's header, roles are an extension and a 403")
    func security() throws {
        let (_, web) = try Self.document(Self.repository.appendingPathComponent("bff-specs/web.yaml"))
        #expect(Self.operation(web, "/dashboard/{userId}")?["security"] == [["bearerAuth": []]])
        #expect(Self.operation(web, "/products/{id}")?["security"] == [])
        #expect(web.value(at: ["components", "securitySchemes", "bearerAuth", "type"]) == "http")
        #expect(web.value(at: ["components", "securitySchemes", "bearerAuth", "scheme"]) == "bearer")
        #expect(web.value(at: ["components", "securitySchemes", "bearerAuth", "bearerFormat"]) == "JWT")
        #expect(Self.operation(web, "/dashboard/{userId}").flatMap { $0.value(at: ["responses", "401"]) } != nil)

        let (_, partner) = try Self.document(Self.repository.appendingPathComponent("bff-specs/partner.yaml"))
        #expect(Self.operation(partner, "/v1/products/{id}/reviews")?["security"] == [["apiKeyAuth": []]])
        #expect(partner.value(at: ["components", "securitySchemes", "apiKeyAuth", "in"]) == "header")
        #expect(partner.value(at: ["components", "securitySchemes", "apiKeyAuth", "name"]) == "X-Api-Key")

        let (_, admin) = try Self.document(Self.repository.appendingPathComponent("bff-specs/admin.yaml"))
        let overview = Self.operation(admin, "/overview")
        #expect(overview?["x-required-roles"] == ["admin"])
        #expect(overview?.value(at: ["responses", "403", "content", "application/problem+json", "schema", "$ref"]) == "#/components/schemas/Problem")
    }

    @Test("required scopes go into the bearer requirement")
    func scopes() throws {
        let document = try Self.document(
            yaml: """
                name: t
                auth: { jwt: { keys: [{ alg: HS256, secret_env: T_SECRET }] } }
                services: { s: { url: "http://127.0.0.1:9" } }
                endpoints:
                  - route: GET /orders
                    auth: jwt
                    require: { scopes: [orders.read] }
                    calls: { orders: { service: s, path: /orders } }
                """
        )
        #expect(Self.operation(document, "/orders")?["security"] == [["bearerAuth": ["orders.read"]]])
        #expect(Self.operation(document, "/orders")?["x-required-scopes"] == ["orders.read"])
    }

    @Test("429 is documented exactly on rate-limited routes")
    func tooManyRequestsOnlyWhenLimited() throws {
        let document = try Self.document(
            yaml: """
                name: t
                services: { s: { url: "http://127.0.0.1:9" } }
                endpoints:
                  - route: GET /free
                    calls: { a: { service: s, path: /a } }
                  - route: GET /limited
                    rate_limit: { key: ip, rate: 5/s }
                    calls: { a: { service: s, path: /a } }
                """
        )
        #expect(Self.operation(document, "/free").flatMap { $0.value(at: ["responses", "429"]) } == nil)
        #expect(Self.operation(document, "/free").flatMap { $0.value(at: ["responses", "401"]) } == nil)
        let limited = Self.operation(document, "/limited")
        #expect(limited.flatMap { $0.value(at: ["responses", "429", "headers", "Retry-After"]) } != nil)
        #expect(limited?["x-rate-limits"] == ["5/s per client address (burst 5)"])
        let (_, mobile) = try Self.document(Self.repository.appendingPathComponent("bff-specs/mobile.yaml"))
        #expect(Self.operation(mobile, "/v1/home/{userId}").flatMap { $0.value(at: ["responses", "429"]) } != nil)
    }

    @Test("sections take their schemas from a call's schema: and from its service's openapi: document")
    func sectionSchemas() throws {
        let (_, document) = try Self.document(Self.fixtures.appendingPathComponent("catalog.yaml"))
        let body = try #require(Self.operation(document, "/account/{id}")?.value(at: ["responses", "200", "content", "application/json", "schema"]))
        #expect(body["required"] == ["_meta", "available", "city", "orders", "profile"])
        #expect(body["additionalProperties"] == false)
        // Inline `schema:`, followed along `from: stock.available`.
        #expect(body.value(at: ["properties", "available", "type"]) == ["integer", "null"])
        // The users document's User, narrowed to `fields: [id, name]`.
        let profile = body.value(at: ["properties", "profile"])
        #expect(profile?.value(at: ["properties", "id"]) == ["type": "string"])
        #expect(profile?["required"] == ["id", "name"])
        #expect(profile?.value(at: ["properties", "email"]) == nil)
        // Through User's $ref to Address.
        #expect(body.value(at: ["properties", "city", "type"]) == "string")
        // The orders JSON document's response $ref, its items' schema copied under components.
        let orders = body.value(at: ["properties", "orders"])
        #expect(orders?["maxItems"] == 3)
        #expect(orders?.value(at: ["items", "$ref"]) == "#/components/schemas/orders.Order")
        #expect(document.value(at: ["components", "schemas", "orders.Order", "required"]) == ["id"])
        #expect(Self.operation(document, "/account/{id}").flatMap { $0.value(at: ["responses", "502"]) } != nil)
        #expect(Self.operation(document, "/account/{id}")?["security"] == nil)
    }

    @Test("_meta lists every call's report, unless the endpoint turns it off")
    func meta() throws {
        let (_, mobile) = try Self.document(Self.repository.appendingPathComponent("bff-specs/mobile.yaml"))
        let body = Self.operation(mobile, "/v1/home/{userId}")?.value(at: ["responses", "200", "content", "application/json", "schema"])
        let meta = body?.value(at: ["properties", "_meta"])
        #expect(meta?.value(at: ["properties", "degraded", "type"]) == "boolean")
        #expect(meta?.value(at: ["properties", "calls", "required"]) == ["notifications", "orders", "recs", "user"])
        #expect(meta?.value(at: ["properties", "calls", "properties", "recs", "$ref"]) == "#/components/schemas/CallReport")
        #expect(Self.operation(mobile, "/v1/home/{userId}").flatMap { $0.value(at: ["responses", "304"]) } != nil)

        let (_, partner) = try Self.document(Self.repository.appendingPathComponent("bff-specs/partner.yaml"))
        let availability = Self.operation(partner, "/v1/products/{id}/availability")?.value(at: ["responses", "200", "content", "application/json", "schema"])
        #expect(availability?.value(at: ["properties", "_meta"]) == nil)
        #expect(availability?.value(at: ["properties", "warehouse"]) != nil)
    }

    @Test("the Problem schema carries the gateway's problem members")
    func problemSchema() throws {
        let (_, web) = try Self.document(Self.repository.appendingPathComponent("bff-specs/web.yaml"))
        let problem = web.value(at: ["components", "schemas", "Problem"])
        #expect(problem?["required"] == ["detail", "request_id", "status", "title", "type"])
        #expect(problem?.value(at: ["properties", "instance", "type"]) == "string")
    }

    @Test("a proxy route documents its methods with a pass-through answer")
    func proxy() throws {
        let (_, admin) = try Self.document(Self.repository.appendingPathComponent("bff-specs/admin.yaml"))
        let users = Self.operation(admin, "/users/{rest}")
        #expect(users.flatMap { $0.value(at: ["responses", "default", "description"]) } == "Whatever service 'users' answers, passed through.")
        #expect(users.flatMap { $0.value(at: ["responses", "304"]) } == nil)
        let document = try Self.document(
            yaml: """
                name: t
                services: { s: { url: "http://127.0.0.1:9" } }
                endpoints:
                  - route: "* /files/{rest*}"
                    proxy: { service: s, path: "/files/{rest}" }
                """
        )
        for method in ["get", "put", "post", "delete", "patch"] {
            #expect(Self.operation(document, "/files/{rest}", method) != nil)
        }
    }

    @Test("the same spec gives the same bytes")
    func deterministic() throws {
        let file = Self.repository.appendingPathComponent("bff-specs/admin.yaml")
        #expect(try Self.document(file).json == Self.document(file).json)
    }

    @Test("a server that is not a URL is refused")
    func badServer() throws {
        let spec = try SpecLoader.load(file: Self.repository.appendingPathComponent("bff-specs/web.yaml").path)
        #expect(throws: OpenAPIDocumentError.self) { try OpenAPIDocument.make(for: spec, version: "1", servers: ["not a url"]) }
    }
}
