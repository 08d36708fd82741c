import BFFRuntime
import BFFSpec
import Foundation
import NIOCore
import NIOHTTP1
import Testing

/// Aggregations over real sockets: a stub upstream, a running gateway, a real client.
@Suite("Aggregation", .timeLimit(.minutes(1)))
struct AggregationTests {
    @Test("independent calls run in parallel and report ok in _meta, X-BFF-Degraded and Server-Timing")
    func independentCallsRunInParallel() async throws {
        try await withStubs { stubs in
            let stub = stubs[0]
            for name in ["a", "b", "c"] {
                stub.on("/\(name)", body: #"{"name":"\#(name)"}"#, delay: .seconds(1))
            }
            let yaml = spec(service: stub, serviceTimeout: "10s", endpoints: """
                - route: GET /dash
                  calls:
                    a: { service: svc, path: /a, required: true }
                    b: { service: svc, path: /b, required: true }
                    c: { service: svc, path: /c, required: true }
                """)
            try await withGateway(yaml) { gateway in
                _ = try await gateway.get("/health")
                let response = try await gateway.get("/dash")

                #expect(response.status == 200)
                // In parallel, every call reached the service before any was answered; one after
                // another, each would arrive after the one before it was answered, a second later.
                // Told by the service's own clock, not by the answer's time, which a busy machine blurs.
                let calls = ["/a", "/b", "/c"].flatMap { stub.requests(to: $0) }
                #expect(calls.count == 3)
                let lastArrival = try #require(calls.map(\.receivedAt).max())
                let firstAnswer = try #require(calls.compactMap(\.respondedAt).min())
                #expect(lastArrival < firstAnswer, "a call reached the service after another was answered: they did not run in parallel")
                let json = try response.json()
                #expect(json.value(at: ["_meta", "degraded"]) == .bool(false))
                #expect(json["a"] == ["name": "a"])
                #expect(json["c"] == ["name": "c"])
                #expect(response.header("X-BFF-Degraded") == "false")
                let timing = try #require(response.header("Server-Timing"))
                let entries = timing.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                #expect(entries.count == 3)
                #expect(entries.map { String($0.prefix(2)) } == ["a;", "b;", "c;"])
                #expect(entries.allSatisfy { $0.contains("dur=") && $0.hasSuffix(#"desc="ok""#) })
            }
        }
    }

    @Test("a call reading another's result starts after it, dependents overlap, and the value is percent-encoded")
    func dependentCallsWaitThenOverlap() async throws {
        try await withStubs { stubs in
            let stub = stubs[0]
            stub.on("/a", body: #"{"x":"p/q r?s"}"#, delay: .milliseconds(100))
            stub.on("/b/*", body: #"{"b":1}"#, delay: .milliseconds(200))
            stub.on("/c", body: #"{"c":2}"#, delay: .milliseconds(200))
            let yaml = spec(service: stub, endpoints: """
                - route: GET /chain
                  calls:
                    a: { service: svc, path: /a, required: true }
                    b: { service: svc, path: "/b/{a.x}", required: true }
                    c: { service: svc, path: "/c?x={a.x}", required: true }
                """)
            try await withGateway(yaml) { gateway in
                let response = try await gateway.get("/chain")
                #expect(response.status == 200)
                #expect(try response.json().value(at: ["_meta", "degraded"]) == .bool(false))

                let a = try #require(stub.requests(to: "/a").first)
                let b = try #require(stub.requests.first { $0.path.hasPrefix("/b/") })
                let c = try #require(stub.requests(to: "/c").first)
                #expect(b.uri == "/b/p%2Fq%20r%3Fs")
                #expect(c.uri == "/c?x=p%2Fq%20r%3Fs")

                let aDone = try #require(a.respondedAt)
                let bDone = try #require(b.respondedAt)
                let cDone = try #require(c.respondedAt)
                #expect(b.receivedAt >= aDone, "b started before a answered")
                #expect(c.receivedAt >= aDone, "c started before a answered")
                #expect(max(b.receivedAt, c.receivedAt) < min(bDone, cDone), "b and c did not overlap")
            }
        }
    }

    @Test("an optional call that times out yields its fallback, marked timeout and degraded")
    func optionalTimeoutUsesFallback() async throws {
        try await withStubs { stubs in
            let stub = stubs[0]
            stub.on("/main", body: #"{"ok":true}"#)
            stub.on("/slow", body: #"["late"]"#, delay: .seconds(5))
            let yaml = spec(service: stub, endpoints: """
                - route: GET /page
                  calls:
                    main: { service: svc, path: /main, required: true }
                    slow: { service: svc, path: /slow, timeout: 100ms, fallback: [] }
                """)
            try await withGateway(yaml) { gateway in
                let (response, elapsed) = try await timed { try await gateway.get("/page") }
                #expect(response.status == 200)
                #expect(elapsed < 2500, "the 100 ms timeout did not cut the 5 s call short (\(elapsed) ms)")
                let json = try response.json()
                #expect(json["slow"] == .array([]))
                #expect(json["main"] == ["ok": true])
                #expect(json.value(at: ["_meta", "calls", "slow", "status"]) == "timeout")
                #expect(json.value(at: ["_meta", "calls", "slow", "source"]) == "fallback")
                #expect(json.value(at: ["_meta", "calls", "main", "status"]) == "ok")
                #expect(json.value(at: ["_meta", "degraded"]) == .bool(true))
                #expect(response.header("X-BFF-Degraded") == "true")
                #expect(await stub.eventually { $0.requests(to: "/slow").first?.cancelledAt != nil }, "the timed-out call's connection stayed open")
            }
        }
    }

    @Test("a required call answering 500 makes a 502 problem with the request id")
    func requiredErrorIsBadGateway() async throws {
        try await withStubs { stubs in
            let stub = stubs[0]
            stub.on("/user", .internalServerError, body: #"{"error":"boom"}"#)
            stub.on("/extra", body: "{}")
            let yaml = spec(service: stub, endpoints: """
                - route: GET /page
                  calls:
                    user: { service: svc, path: /user, required: true }
                    extra: { service: svc, path: /extra, fallback: {} }
                """)
            try await withGateway(yaml) { gateway in
                let response = try await gateway.get("/page", headers: [("X-Request-ID", "req-500")])
                #expect(response.status == 502)
                #expect(response.header("Content-Type") == "application/problem+json")
                #expect(response.header("X-Request-ID") == "req-500")
                #expect(response.header("X-BFF-Degraded") == "true")
                let json = try response.json()
                #expect(json["status"]?.numberValue == 502)
                #expect(json["request_id"] == "req-500")
                #expect(json.value(at: ["calls", "user", "status"]) == "error")
                #expect(json.value(at: ["calls", "user", "http"])?.numberValue == 500)
                #expect(!response.text.contains("boom"), "the upstream body leaked into the problem")
            }
        }
    }

    @Test("a required call that times out makes a 504 problem")
    func requiredTimeoutIsGatewayTimeout() async throws {
        try await withStubs { stubs in
            let stub = stubs[0]
            stub.on("/user", body: "{}", delay: .seconds(5))
            let yaml = spec(service: stub, endpoints: """
                - route: GET /page
                  calls:
                    user: { service: svc, path: /user, timeout: 100ms, required: true }
                """)
            try await withGateway(yaml) { gateway in
                let (response, elapsed) = try await timed { try await gateway.get("/page") }
                #expect(response.status == 504)
                #expect(elapsed < 2500, "the 100 ms timeout did not cut the 5 s call short (\(elapsed) ms)")
                #expect(response.header("Content-Type") == "application/problem+json")
                let json = try response.json()
                #expect(json["request_id"]?.templateText?.isEmpty == false)
                #expect(json["request_id"]?.templateText == response.header("X-Request-ID"))
                #expect(json.value(at: ["calls", "user", "status"]) == "timeout")
            }
        }
    }

    @Test("a required call failing fast answers at once and cancels the slow call at the upstream")
    func requiredFailureCancelsSiblings() async throws {
        try await withStubs { stubs in
            let stub = stubs[0]
            stub.on("/user", .serviceUnavailable, body: "{}", delay: .milliseconds(50))
            stub.on("/slow", body: "{}", delay: .seconds(2))
            let yaml = spec(service: stub, serviceTimeout: "3s", endpoints: """
                - route: GET /page
                  timeout: 5s
                  calls:
                    user: { service: svc, path: /user, required: true }
                    slow: { service: svc, path: /slow, fallback: {} }
                """)
            try await withGateway(yaml) { gateway in
                let (response, elapsed) = try await timed { try await gateway.get("/page") }
                #expect(response.status == 502)
                #expect(elapsed < 1000, "the gateway waited \(elapsed) ms for the slow call after the required one failed")
                let answered = NIODeadline.now()
                #expect(await stub.eventually(within: .seconds(1)) { $0.cancelledCount == 1 }, "the slow call was never abandoned")
                let slow = try #require(stub.requests(to: "/slow").first)
                #expect(slow.respondedAt == nil)
                let cancelledAt = try #require(slow.cancelledAt)
                #expect(milliseconds(from: slow.receivedAt, to: cancelledAt) < 1000)
                #expect(milliseconds(from: answered, to: cancelledAt) < 500)
                let json = try response.json()
                #expect(json.value(at: ["calls", "slow", "status"]) == "cancelled")
            }
        }
    }

    @Test("an optional call answering non-JSON counts as an error and yields its fallback")
    func nonJSONBodyUsesFallback() async throws {
        try await withStubs { stubs in
            let stub = stubs[0]
            stub.on("/main", body: #"{"id":1}"#)
            stub.on("/html", body: "<html>oops</html>", contentType: "text/html")
            let yaml = spec(service: stub, endpoints: """
                - route: GET /page
                  calls:
                    main: { service: svc, path: /main, required: true }
                    extra: { service: svc, path: /html, fallback: { n: 0 } }
                """)
            try await withGateway(yaml) { gateway in
                let response = try await gateway.get("/page")
                #expect(response.status == 200)
                #expect(!response.text.contains("oops"))
                let json = try response.json()
                #expect(json["extra"] == ["n": 0])
                #expect(json.value(at: ["_meta", "calls", "extra", "status"]) == "error")
                #expect(json.value(at: ["_meta", "calls", "extra", "http"])?.numberValue == 200)
                #expect(json.value(at: ["_meta", "calls", "extra", "source"]) == "fallback")
                #expect(json.value(at: ["_meta", "degraded"]) == .bool(true))
                #expect(response.header("X-BFF-Degraded") == "true")
            }
        }
    }

    @Test("response shaping picks fields, paths and limits, and pass-through keeps the upstream's bytes")
    func responseShaping() async throws {
        try await withStubs { stubs in
            let stub = stubs[0]
            let priceBody = #"{"amount": 1.50, "big": 12345678901234567890, "tags": [ "x" ]}"#
            stub.on("/users/7", body: #"{"id":7,"name":"Ann","secret":"s3","address":{"city":"Oslo","zip":"0150"}}"#)
            stub.on("/orders", body: #"[{"id":1,"total":1.50,"note":"a"},{"id":2,"total":2,"note":"b"},{"id":3,"total":3,"note":"c"}]"#)
            stub.on("/price", body: priceBody)
            let yaml = spec(service: stub, endpoints: """
                - route: GET /profile/{id}
                  calls:
                    user: { service: svc, path: "/users/{path.id}", required: true }
                    orders: { service: svc, path: "/orders?user={path.id}", fallback: [] }
                    price: { service: svc, path: /price, required: true }
                  response:
                    profile: { from: user, fields: [id, name] }
                    city: { from: user.address.city }
                    orders: { from: orders, fields: [id, total], limit: 2 }
                    price: price
                """)
            try await withGateway(yaml) { gateway in
                let response = try await gateway.get("/profile/7")
                #expect(response.status == 200)
                #expect(response.text.contains(#""price":\#(priceBody)"#), "pass-through did not splice the upstream bytes: \(response.text)")
                #expect(!response.text.contains("s3"))
                let json = try response.json()
                #expect(json["profile"] == ["id": 7, "name": "Ann"])
                #expect(json["city"] == "Oslo")
                #expect(json["orders"] == [["id": 1, "total": 1.5], ["id": 2, "total": 2]])
                #expect(stub.requests(to: "/orders").first?.uri == "/orders?user=7")
                #expect(json.value(at: ["_meta", "degraded"]) == .bool(false))
            }
        }
    }
}
