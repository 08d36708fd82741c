import BFFSpec
import Foundation
import NIOCore
import NIOHTTP1
import Testing

@testable import BFFRuntime

/// `/admin/` and the `/admin/status.json` it polls, read by a real client after real traffic.
@Suite("The admin page and its status", .timeLimit(.minutes(1)))
struct AdminPageTests {
    static func yaml(_ stub: StubUpstream) -> String {
        """
        name: admin-test
        services:
          svc: { url: "\(stub.url)", timeout: 2s }
          slow: { url: "\(stub.url)", timeout: 100ms }
        endpoints:
          - route: GET /page/{id}
            calls:
              good: { service: svc, path: "/good/{path.id}" }
              bad:  { service: svc, path: /bad, fallback: [] }
              late: { service: slow, path: /late, fallback: {} }
          - route: GET /items/{rest*}
            proxy: { service: svc, path: "/items/{rest}" }
        """
    }

    @Test("status.json counts each route's answers by status class and each call's outcomes, with latency histograms, on either answer path", arguments: [true, false])
    func countsRoutesAndCalls(fastAggregations: Bool) async throws {
        try await withStubs { stubs in
            let stub = stubs[0]
            stub.on("/good/1", body: #"{"ok":true}"#)
            stub.on("/bad", .internalServerError, body: #"{"secret":"internal"}"#)
            stub.on("/late", body: "{}", delay: .milliseconds(600))
            stub.on("/items/a", body: "[]")
            try await withGateway(Self.yaml(stub), adminListener: true, fastAggregations: fastAggregations) { gateway in
                for _ in 0..<3 { #expect(try await gateway.get("/page/1").status == 200) }
                #expect(try await gateway.get("/items/a").status == 200)
                #expect(try await gateway.get("/nowhere").status == 404)

                let answer = try await gateway.admin("/admin/status.json")
                #expect(answer.status == 200)
                #expect(answer.header("Content-Type") == "application/json")
                #expect(answer.header("Cache-Control") == "no-store")
                let status = try answer.json()
                #expect(status["bff"] == "admin-test")
                #expect(status["monotonic_ms"]?.numberValue != nil)
                let bounds = try #require(status["latency_bounds_ms"]?.arrayElements)
                #expect(bounds.count == LatencyHistogram.bucketCount - 1)
                #expect(bounds.first == 0.1)

                let routes = try #require(status["routes"]?.arrayElements)
                #expect(routes.compactMap { $0["route"]?.templateText }.prefix(2) == ["/page/{id}", "/items/{rest*}"], "spec order first")
                let page = try #require(Self.route("/page/{id}", in: status))
                #expect(page["methods"] == ["GET"])
                #expect(page["kind"] == "aggregate")
                #expect(page["requests"] == 3)
                #expect(page.value(at: ["status", "2xx"]) == 3)
                #expect(page.value(at: ["status", "5xx"]) == 0)
                #expect(Self.total(page["latency"]) == 3)
                #expect(Self.slowestBound(page["latency"], bounds) >= 80, "each page waited for the late call's 100 ms timeout (in the bucket from 86 ms)")

                let good = try #require(Self.call("good", in: page))
                #expect(good["service"] == "svc")
                #expect(good["required"] == false)
                #expect(good["timeout_ms"] == 2000)
                #expect(good["outcomes"] == ["ok": 3, "error": 0, "timeout": 0, "circuit_open": 0, "skipped": 0, "cancelled": 0])
                #expect(Self.total(good["latency"]) == 3)
                #expect(Self.call("bad", in: page)?.value(at: ["outcomes", "error"]) == 3)
                let late = try #require(Self.call("late", in: page))
                #expect(late.value(at: ["outcomes", "timeout"]) == 3)
                #expect(late.value(at: ["outcomes", "ok"]) == 0)
                #expect(late["timeout_ms"] == 100)
                let lateSlowest = Self.slowestBound(late["latency"], bounds)
                #expect(lateSlowest >= 80 && lateSlowest < 500, "timed out after about 100 ms, not the stub's 600: \(late)")

                let items = try #require(Self.route("/items/{rest*}", in: status))
                #expect(items["kind"] == "proxy")
                #expect(items["service"] == "svc")
                #expect(items["requests"] == 1)
                #expect(items["calls"] == [])
                let unmatched = try #require(Self.route("unmatched", in: status))
                #expect(unmatched["kind"] == "other")
                #expect(unmatched.value(at: ["status", "4xx"]) == 1)
                #expect(!answer.text.contains("/page/1"), "routes are patterns, never request paths")
                #expect(!answer.text.contains("internal"))
            }
        }
    }

    @Test("status.json reports each service's breaker and instances, the cache's look-ups, 429s under their route, and the generation and last reload")
    func servicesCacheLimitsAndGeneration() async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("admin-\(UUID().uuidString).yaml").path
        defer { try? FileManager.default.removeItem(atPath: file) }
        try await withStubs { stubs in
            let stub = stubs[0]
            stub.on("/users/u1", body: #"{"id":"u1"}"#)
            let yaml = """
                name: admin-test
                services:
                  users:
                    url: "\(stub.url)"
                    circuit_breaker: { min_requests: 10, failure_rate: 50%, open_for: 10s }
                endpoints:
                  - route: GET /users/{id}
                    rate_limit: { key: ip, rate: 1/h, burst: 3 }
                    calls:
                      user: { service: users, path: "/users/{path.id}", cache: { ttl: 10s } }
                """
            try await withGateway(yaml, adminListener: true, specFile: file) { gateway in
                let before = try await gateway.admin("/admin/status.json").json()
                #expect(before["generation"] == 1)
                #expect(before["last_reload"] == .null)
                #expect(before.value(at: ["spec", "name"]) == "admin-test")
                #expect(before.value(at: ["spec", "file"])?.templateText == file)
                #expect(before.value(at: ["spec", "loaded_at"])?.templateText.flatMap { ISO8601DateFormatter().date(from: $0) } != nil)
                #expect(Self.route("/users/{id}", in: before)?["requests"] == 0, "a declared route is listed before its first request")

                let statuses = try await (0..<5).asyncMap { _ in try await gateway.get("/users/u1").status }
                #expect(statuses == [200, 200, 200, 429, 429])

                let status = try await gateway.admin("/admin/status.json").json()
                #expect(status.value(at: ["cache", "enabled"]) == true)
                #expect(status.value(at: ["cache", "miss"]) == 1)
                #expect(status.value(at: ["cache", "hit"]) == 2)
                #expect(status.value(at: ["cache", "stale"]) == 0)
                #expect(status["rate_limited"] == 2)
                let route = try #require(Self.route("/users/{id}", in: status))
                #expect(route["requests"] == 5)
                #expect(route["rate_limited"] == 2, "a refused request is counted under its route, not as unmatched")
                #expect(route.value(at: ["status", "4xx"]) == 2)
                #expect(Self.route("unmatched", in: status) == nil)

                let services = try #require(status["services"]?.arrayElements)
                #expect(services.count == 1)
                #expect(services.first?["name"] == "users")
                #expect(services.first?.value(at: ["breaker", "state"]) == "closed")
                #expect(services.first?.value(at: ["instances", "0", "url"])?.templateText?.hasPrefix(stub.url) == true)
                #expect(services.first?.value(at: ["instances", "0", "healthy"]) == true)
                #expect(services.first?.value(at: ["instances", "0", "ejected"]) == false)

                #expect(try await gateway.admin("/admin/reload", method: .POST).status == 200)
                let reloaded = try await gateway.admin("/admin/status.json").json()
                #expect(reloaded["generation"] == 2)
                #expect(reloaded.value(at: ["last_reload", "result"]) == "applied")
                #expect(reloaded.value(at: ["last_reload", "at"])?.templateText != nil)
                #expect(Self.route("/users/{id}", in: reloaded)?["requests"] == 5, "counts go on across a reload")
            }
        }
    }

    @Test("/admin/ serves one self-contained page with no-store, a strict CSP and nosniff; /admin serves it too")
    func servesThePage() async throws {
        try await withStubs { stubs in
            try await withGateway(Self.yaml(stubs[0]), adminListener: true) { gateway in
                for path in ["/admin/", "/admin"] {
                    let page = try await gateway.admin(path)
                    #expect(page.status == 200, "\(path)")
                    #expect(page.header("Content-Type") == "text/html; charset=utf-8")
                    #expect(page.header("Cache-Control") == "no-store")
                    #expect(page.header("X-Content-Type-Options") == "nosniff")
                    let policy = try #require(page.header("Content-Security-Policy"))
                    #expect(policy.hasPrefix("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'"))
                    let html = page.text
                    #expect(html.hasPrefix("<!doctype html>"))
                    #expect(html.contains(#"fetch("/admin/status.json""#))
                    #expect(!html.contains(" src="), "no external script or image")
                    #expect(!html.contains("stylesheet"), "no external styles")
                    #expect(!html.contains("@import") && !html.contains("url("), "nothing loaded from CSS")
                    let addresses = html.components(separatedBy: "http").dropFirst().map { String($0.prefix(30)) }
                    #expect(addresses.allSatisfy { $0.hasPrefix("://www.w3.org/2000/svg") }, "the SVG namespace is the only address: \(addresses)")
                }
                #expect(try await gateway.get("/admin/").status == 404, "the public listener does not serve it")
            }
        }
    }

    // MARK: - Reading status.json

    static func route(_ name: String, in status: JSONValue) -> JSONValue? {
        status["routes"]?.arrayElements?.first { $0["route"]?.templateText == name }
    }

    static func call(_ name: String, in route: JSONValue) -> JSONValue? {
        route["calls"]?.arrayElements?.first { $0["call"]?.templateText == name }
    }

    static func total(_ histogram: JSONValue?) -> Double {
        (histogram?.arrayElements ?? []).compactMap(\.numberValue).reduce(0, +)
    }

    /// The lower bound, in milliseconds, of the slowest bucket holding a count.
    static func slowestBound(_ histogram: JSONValue?, _ bounds: [JSONValue]) -> Double {
        let counts = (histogram?.arrayElements ?? []).compactMap(\.numberValue)
        guard let last = counts.lastIndex(where: { $0 > 0 }), last > 0 else { return 0 }
        return bounds[last - 1].numberValue ?? 0
    }
}

extension JSONValue {
    fileprivate var arrayElements: [JSONValue]? {
        guard case .array(let elements) = self else { return nil }
        return elements
    }
}

extension Range where Bound == Int {
    fileprivate func asyncMap<T>(_ transform: (Int) async throws -> T) async rethrows -> [T] {
        var results: [T] = []
        for element in self { results.append(try await transform(element)) }
        return results
    }
}
