import BFFSpec
import HTTPTypes
import Testing

@testable import BFFRuntime

/// Substituted values are never trusted: each becomes exactly one path segment or query value.
@Suite struct TemplateEncodingTests {
    static let hostile: [(value: String, encoded: String)] = [
        ("%2e%2e%2f", "%252e%252e%252f"),
        ("a/b", "a%2Fb"),
        ("?x", "%3Fx"),
        ("#f", "%23f"),
        ("&role=admin", "%26role%3Dadmin"),
        ("%0d%0aHost: x", "%250d%250aHost%3A%20x"),
        ("\r\nHost: x", "%0D%0AHost%3A%20x"),
        ("@evil.com", "%40evil.com"),
        ("a+b c", "a%2Bb%20c"),
        ("é", "%C3%A9"),
    ]

    private func render(_ template: String, captures: [String: String] = [:], query: [String: String] = [:]) throws -> String {
        let compiled = CompiledTemplate(try Template.parse(template, kind: .urlPath))
        let inputs = RequestInputs(captures: captures, query: query)
        try compiled.validateRequestInputs(inputs, restCapture: nil)
        return try compiled.render(inputs: inputs) { _ in nil }
    }

    @Test("hostile values stay one path segment", arguments: hostile)
    func pathSegment(_ sample: (value: String, encoded: String)) throws {
        #expect(try render("/users/{path.id}/orders", captures: ["id": sample.value]) == "/users/\(sample.encoded)/orders")
    }

    @Test("hostile values stay one query value", arguments: hostile)
    func queryValue(_ sample: (value: String, encoded: String)) throws {
        #expect(try render("/orders?user={query.u}&limit=5", query: ["u": sample.value]) == "/orders?user=\(sample.encoded)&limit=5")
    }

    @Test("dot segments and empty values in a path are refused before any call", arguments: ["..", ".", ""])
    func dotSegments(_ value: String) throws {
        #expect(throws: TemplateFillError.self) { try render("/users/{path.id}", captures: ["id": value]) }
    }

    @Test("a 10 KB value is encoded whole, still one segment")
    func longValue() throws {
        let value = String(repeating: "a/", count: 5 * 1024)
        let rendered = try render("/users/{path.id}", captures: ["id": value])
        #expect(rendered == "/users/" + String(repeating: "a%2F", count: 5 * 1024))
        #expect(rendered.split(separator: "/").count == 2)
    }

    @Test("header values with CR or LF are refused")
    func headerInjection() throws {
        let compiled = CompiledTemplate(try Template.parse("{query.lang}", kind: .headerValue))
        let inputs = RequestInputs(query: ["lang": "en\r\nX-Admin: 1"])
        #expect(throws: TemplateFillError.self) { try compiled.validateRequestInputs(inputs, restCapture: nil) }
    }

    @Test("a rest capture keeps its slashes but encodes each segment")
    func restCapture() throws {
        let compiled = CompiledTemplate(try Template.parse("/users/{rest}", kind: .urlPath))
        let inputs = RequestInputs(captures: ["rest": "u1/orders/a b?c"])
        #expect(try compiled.render(inputs: inputs, restCapture: "rest") { _ in nil } == "/users/u1/orders/a%20b%3Fc")
    }
}
