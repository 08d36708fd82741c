import BFFSpec
import Testing

@Suite("Template.parse")
struct TemplateTests {
    @Test("variables before '?' are path segments, after it query values")
    func placement() throws {
        let template = try Template.parse("/orders/{path.id}/items?user={path.id}&limit={query.limit:5}", kind: .urlPath)

        #expect(template.text == "/orders/{path.id}/items?user={path.id}&limit={query.limit:5}")
        let literals = template.parts.compactMap { part -> String? in
            if case .literal(let text) = part { return text }
            return nil
        }
        #expect(literals == ["/orders/", "/items?user=", "&limit="])
        #expect(template.parts.count == 6)
        #expect(template.variables.map(\.source) == [.path("id"), .path("id"), .query("limit")])
        #expect(template.variables.map(\.placement) == [.pathSegment, .queryValue, .queryValue])
        #expect(template.variables.map(\.defaultValue) == [nil, nil, "5"])
        #expect(template.variables.map(\.text) == ["{path.id}", "{path.id}", "{query.limit:5}"])
        #expect(template.callDependencies.isEmpty)
    }

    @Test("a default keeps everything after the first colon")
    func defaults() throws {
        let template = try Template.parse("/x?a={query.a:}&b={query.b:1:2}&c={query.c}", kind: .urlPath)
        #expect(template.variables.map(\.defaultValue) == ["", "1:2", nil])
    }

    @Test("header names are lowercased and header templates need no leading '/'")
    func headerValue() throws {
        let template = try Template.parse("Bearer {header.X-Auth-Token}", kind: .headerValue)

        #expect(template.parts.first == .literal("Bearer "))
        let variable = try #require(template.variables.first)
        #expect(variable.source == .header("x-auth-token"))
        #expect(variable.placement == .headerValue)
        #expect(variable.text == "{header.X-Auth-Token}")
    }

    @Test("a dotted name that is not a request input reads another call's result")
    func callReference() throws {
        let template = try Template.parse("/cities/{user.address.city}?tier={user.tier}&o={orders.0.id}", kind: .urlPath)

        #expect(
            template.variables.map(\.source) == [
                .call("user", path: ["address", "city"]),
                .call("user", path: ["tier"]),
                .call("orders", path: ["0", "id"]),
            ]
        )
        #expect(template.variables.map(\.callDependency) == ["user", "user", "orders"])
        #expect(template.callDependencies == ["user", "orders"])
    }

    @Test("a bare name is a route capture")
    func bareName() throws {
        let template = try Template.parse("/users/{rest}", kind: .urlPath)
        #expect(template.variables.map(\.source) == [.path("rest")])
        #expect(template.variables.first?.callDependency == nil)
    }

    @Test("literal-only templates are one literal part")
    func literalOnly() throws {
        #expect(try Template.parse("/health", kind: .urlPath).parts == [.literal("/health")])
        #expect(try Template.parse("", kind: .headerValue).parts.isEmpty)
    }

    @Test("malformed templates are rejected with a message and hint", arguments: [
        ("/users/{path.id", Template.Kind.urlPath, "unclosed '{'"),
        ("/users/{path.{id}}", .urlPath, "unclosed '{'"),
        ("/users/path.id}", .urlPath, "unmatched '}'"),
        ("/users/{path.id}#top", .urlPath, "contains '#'"),
        ("users/{path.id}", .urlPath, "does not start with '/'"),
        ("", .urlPath, "does not start with '/'"),
        ("/users/{}", .urlPath, "bad placeholder"),
        ("/users/{path}", .urlPath, "names no single path value"),
        ("/users/{query.a.b}", .urlPath, "names no single query value"),
        ("/users/{user..tier}", .urlPath, "bad placeholder"),
        ("/users/{us er}", .urlPath, "bad placeholder"),
        ("/users/a b", .urlPath, "whitespace or control character"),
        ("value\r\nInjected: 1", .headerValue, "whitespace or control character"),
    ])
    func rejected(text: String, kind: Template.Kind, message: String) {
        #expect {
            _ = try Template.parse(text, kind: kind)
        } throws: { error in
            guard let error = error as? TemplateSyntaxError else { return false }
            return error.message.contains(message) && !error.hint.isEmpty
        }
    }
}
