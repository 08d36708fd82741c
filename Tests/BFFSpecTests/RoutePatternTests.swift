import BFFSpec
import Testing

@Suite("RoutePattern.parse")
struct RoutePatternTests {
    @Test("segments, captures and a trailing rest capture")
    func captures() throws {
        let route = try RoutePattern.parse("GET /users/{id}/orders/{orderId}")
        #expect(route.method == "GET")
        #expect(route.path == "/users/{id}/orders/{orderId}")
        #expect(route.segments == [.literal("users"), .capture("id"), .literal("orders"), .capture("orderId")])
        #expect(route.captureNames == ["id", "orderId"])
        #expect(route.restCapture == nil)
        #expect(route.description == "GET /users/{id}/orders/{orderId}")

        let proxy = try RoutePattern.parse("*  /api/{version}/{rest*}")
        #expect(proxy.method == "*")
        #expect(proxy.segments == [.literal("api"), .capture("version"), .rest("rest")])
        #expect(proxy.captureNames == ["version", "rest"])
        #expect(proxy.restCapture == "rest")

        #expect(try RoutePattern.parse("GET /").segments.isEmpty)
    }

    @Test("malformed routes are rejected with a message and hint", arguments: [
        ("GET /{rest*}/more", "must be the last segment"),
        ("GET /a/{id}/b/{id}", "appears twice"),
        ("GET /a/{id}/{id*}", "appears twice"),
        ("FETCH /a", "unknown method 'FETCH'"),
        ("get /a", "unknown method 'get'"),
        ("GET", "is not 'METHOD /path'"),
        ("GET /a extra", "is not 'METHOD /path'"),
        ("GET a/b", "does not start with '/'"),
        ("GET /a/", "ends with '/'"),
        ("GET /a{id}", "must be a whole segment"),
        ("GET /a/{}", "bad capture"),
        ("GET /a/{i.d}", "bad capture"),
        ("GET /a/../b", "is not a plain name"),
        ("GET /a%2Fb", "is not a plain name"),
    ])
    func rejected(text: String, message: String) {
        #expect {
            _ = try RoutePattern.parse(text)
        } throws: { error in
            guard let error = error as? RouteSyntaxError else { return false }
            return error.message.contains(message) && !error.hint.isEmpty
        }
    }

    @Test("an unknown method's hint lists the allowed methods")
    func unknownMethodHint() throws {
        let error = try #require(throws: RouteSyntaxError.self) { try RoutePattern.parse("FETCH /a") }
        #expect(error.hint.contains("GET"))
        #expect(error.hint.contains("DELETE"))
    }

    @Test("routes overlap when the same request could match both", arguments: [
        ("GET /a/{id}", "GET /a/{key}", true),
        ("GET /a/{id}", "* /a/{id}", true),
        ("GET /api/{rest*}", "GET /api/{tail*}", true),
        ("GET /a/{id}", "POST /a/{id}", false),
        ("GET /a/{id}", "GET /a/static", false),
        ("GET /a/{id}", "GET /a/{id}/b", false),
        ("GET /a/b", "GET /a/c", false),
    ])
    func overlaps(first: String, second: String, expected: Bool) throws {
        let a = try RoutePattern.parse(first)
        let b = try RoutePattern.parse(second)
        #expect(a.overlaps(b) == expected)
        #expect(b.overlaps(a) == expected)
    }
}
