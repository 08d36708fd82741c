import BFFSpec
import Foundation
import Testing

/// `schema:` on calls and `openapi:` on services.
@Suite struct OpenAPISpecTests {
    /// A folder with the spec `spec.yaml` and the service document `users.openapi.yaml`.
    static func withFiles(spec: String, document: String, _ body: (String) throws -> Void) throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("bff-openapi-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try document.write(to: folder.appendingPathComponent("users.openapi.yaml"), atomically: true, encoding: .utf8)
        let file = folder.appendingPathComponent("spec.yaml").path
        try spec.write(toFile: file, atomically: true, encoding: .utf8)
        try body(file)
    }

    static let spec = """
        name: t
        services:
          users: { url: "http://127.0.0.1:9", openapi: users.openapi.yaml }
        endpoints:
          - route: GET /u/{id}
            calls: { user: { service: users, path: "/users/{path.id}?full=1" } }
        """

    @Test("a call's schema: is read as JSON")
    func inlineSchema() throws {
        let spec = try SpecLoader.load(
            yaml: SpecFixtures.header + """
                  - route: GET /u/{id}
                    calls:
                      user: { service: users, path: "/users/{path.id}", schema: { type: object, properties: { age: { type: integer, minimum: 0 } } } }
                """,
            file: SpecFixtures.file
        )
        let schema = spec.endpoints[0].aggregate?.calls[0].schema
        #expect(schema == ["type": "object", "properties": ["age": ["type": "integer", "minimum": 0]]])
    }

    @Test("a schema: with a $ref or that is no mapping is reported at its line")
    func badInlineSchema() {
        let diagnostics = SpecFixtures.diagnostics(
            endpoints: """
                  - route: GET /u/{id}
                    calls:
                      user: { service: users, path: "/users/{path.id}", schema: { type: object, properties: { a: { $ref: "#/x" } } } }
                      orders: { service: orders, path: /orders, schema: [1] }
                """
        )
        #expect(diagnostics.map(\.message) == ["schema of call 'user' has a $ref", "schema of call 'orders' must be a JSON Schema mapping"])
        #expect(diagnostics.map(\.location.line) == [9, 10])
    }

    @Test("a service's openapi: document gives its operations' 200 schemas and its components")
    func serviceDocument() throws {
        let document = """
            openapi: 3.1.0
            info: { title: users, version: "1" }
            paths:
              /users/{id}:
                get:
                  responses:
                    200: { description: a user, content: { application/json: { schema: { $ref: "#/components/schemas/User" } } } }
              /users/me:
                get:
                  responses:
                    "200": { description: me, content: { application/json: { schema: { type: string } } } }
            components:
              schemas:
                User: { type: object, properties: { id: { type: string } } }
            """
        try Self.withFiles(spec: Self.spec, document: document) { file in
            let spec = try SpecLoader.load(file: file)
            let openAPI = try #require(spec.services["users"]?.openAPI)
            #expect(openAPI.file.hasSuffix("/users.openapi.yaml"))
            #expect(openAPI.schema(named: "User") == ["type": "object", "properties": ["id": ["type": "string"]]])
            let call = try #require(spec.endpoints[0].aggregate?.calls[0])
            #expect(openAPI.operation(method: "GET", path: call.path)?.path == "/users/{id}")
            #expect(openAPI.operation(method: "GET", path: try Template.parse("/users/me", kind: .urlPath))?.responseSchema == ["type": "string"])
            #expect(openAPI.operation(method: "POST", path: call.path) == nil)
        }
    }

    @Test("problems in a service's document are reported at its own file and line")
    func badServiceDocument() throws {
        let document = """
            openapi: 3.1.0
            paths:
              /users/{id}:
                get:
                  responses:
                    200: { description: a user, content: { application/json: { schema: { $ref: "#/components/schemas/Missing" } } } }
            """
        try Self.withFiles(spec: Self.spec, document: document) { file in
            let diagnostics = SpecFixtures.diagnostics(try String(contentsOfFile: file, encoding: .utf8), file: file)
            #expect(diagnostics.map(\.message) == ["$ref '#/components/schemas/Missing' names no schema of components.schemas"])
            #expect(diagnostics.first?.location.file.hasSuffix("users.openapi.yaml") == true)
            #expect(diagnostics.first?.location.line == 6)
        }
        try Self.withFiles(spec: Self.spec, document: "swagger: '2.0'\n") { file in
            let diagnostics = SpecFixtures.diagnostics(try String(contentsOfFile: file, encoding: .utf8), file: file)
            #expect(diagnostics.map(\.hint) == ["convert the Swagger 2.0 document to OpenAPI 3"])
        }
    }

    @Test("an openapi: file that cannot be read is reported where the spec names it")
    func missingServiceDocument() {
        let diagnostics = SpecFixtures.diagnostics(
            """
            name: t
            services:
              users: { url: "http://127.0.0.1:9", openapi: /nonexistent/users.yaml }
            endpoints: []
            """
        )
        #expect(diagnostics.map(\.message) == ["openapi document '/nonexistent/users.yaml' cannot be read"])
        #expect(diagnostics.first?.location.line == 3)
    }
}
