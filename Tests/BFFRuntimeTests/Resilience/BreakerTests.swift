import BFFSpec
import Foundation
import NIOCore
import NIOHTTP1
import Testing

@testable import BFFRuntime

/// Circuit breakers per service, driven through gateways against stub services.
@Suite("Resilience: circuit breakers", .timeLimit(.minutes(1)))
struct BreakerTests {
    static func yaml(_ stub: StubUpstream, breaker: String = "{ window: 30s, min_requests: 5, failure_rate: 50%, open_for: 3s, half_open_probes: 2 }", callTimeout: String = "5s") -> String {
        """
        name: breaker-test
        services:
          svc:
            url: "\(stub.url)"
            circuit_breaker: \(breaker)
        endpoints:
          - route: GET /optional
            timeout: 10s
            calls:
              x: { service: svc, path: /x, timeout: \(callTimeout), fallback: "none" }
          - route: GET /required
            timeout: 10s
            calls:
              x: { service: svc, path: /x, timeout: \(callTimeout), required: true }
          - route: "* /p/{rest*}"
            proxy: { service: svc, path: "/{rest}" }
        """
    }

    @Test("failures over the rate open the breaker: calls fail fast, optional ones with their fallback and circuit_open, required ones with 503 and Retry-After")
    func opensAndFailsFast() async throws {
        try await withStubs { stubs in
            let stub = stubs[0]
            stub.on("/x", .internalServerError, body: "{}")
            let breaker = "{ window: 10s, min_requests: 5, failure_rate: 50%, open_for: 30s, half_open_probes: 2 }"
            try await withGateway(Self.yaml(stub, breaker: breaker), adminListener: true) { gateway in
                for _ in 0..<5 { #expect(try await gateway.get("/optional").status == 200) }
                #expect(stub.requests(to: "/x").count == 5)

                let open = try await gateway.get("/optional")
                #expect(open.status == 200)
                let json = try open.json()
                #expect(json.value(at: ["_meta", "calls", "x", "status"]) == "circuit_open")
                #expect(json.value(at: ["_meta", "calls", "x", "source"]) == "fallback")
                #expect(json["x"] == "none")

                let required = try await gateway.get("/required")
                #expect(required.status == 503)
                #expect(required.header("Content-Type") == "application/problem+json")
                #expect(required.header("Retry-After").flatMap(Int.init).map { $0 > 1 && $0 <= 30 } == true, "seconds until the breaker half-opens")
                #expect(try required.json().value(at: ["calls", "x", "status"]) == "circuit_open")
                #expect(stub.requests(to: "/x").count == 5, "an open breaker sends nothing")

                let breakers = try await gateway.admin("/admin/breakers").json()
                #expect(breakers.value(at: ["svc", "breaker", "state"]) == "open")
                let metrics = try await gateway.admin("/metrics").text
                #expect(PrometheusText.value(metrics, "bff_circuit_breaker_state", ["service": "svc"]) == 2)
                #expect(PrometheusText.value(metrics, "bff_circuit_breaker_rejections_total", ["service": "svc"]) == 2)
                #expect(PrometheusText.value(metrics, "bff_upstream_calls_total", ["route": "/optional", "call": "x", "outcome": "circuit_open"]) == 1)
            }
        }
    }

    @Test("half-open admits exactly the configured probes while everything else fails fast, and closes when they succeed")
    func halfOpenProbes() async throws {
        try await withStubs { stubs in
            let stub = stubs[0]
            stub.on("/x", .internalServerError, body: "{}")
            try await withGateway(Self.yaml(stub)) { gateway in
                for _ in 0..<5 { _ = try await gateway.get("/optional") }
                #expect(try await gateway.get("/optional").json().value(at: ["_meta", "calls", "x", "status"]) == "circuit_open")
                // Probes slow enough that all ten requests arrive while the two are still out. (The
                // breaker's 3 s open and these 2.5 s leave a busy machine's pauses room: a request
                // after the fifth failure still finds it open, and none of the ten comes after the probes.)
                stub.on("/x", body: #"{"ok":true}"#, delay: .milliseconds(2500))
                try await Task.sleep(for: .milliseconds(3100))

                let statuses = try await withThrowingTaskGroup(of: String.self) { group in
                    for _ in 0..<10 {
                        group.addTask {
                            let json = try await gateway.get("/optional").json()
                            guard case .string(let status)? = json.value(at: ["_meta", "calls", "x", "status"]) else { return "?" }
                            return status
                        }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                #expect(statuses.filter { $0 == "ok" }.count == 2, "exactly two probes: \(statuses)")
                #expect(statuses.filter { $0 == "circuit_open" }.count == 8)
                #expect(stub.requests(to: "/x").count == 5 + 2)

                #expect(try await gateway.get("/optional").json().value(at: ["_meta", "calls", "x", "status"]) == "ok", "closed again")
            }
        }
    }

    @Test("a probe that hangs times out with its call and reopens the breaker")
    func hangingProbe() async throws {
        try await withStubs { stubs in
            let stub = stubs[0]
            stub.on("/x", .internalServerError, body: "{}")
            try await withGateway(Self.yaml(stub, breaker: "{ min_requests: 3, failure_rate: 50%, open_for: 3s, half_open_probes: 1 }", callTimeout: "300ms")) { gateway in
                for _ in 0..<3 { _ = try await gateway.get("/optional") }
                stub.on("/x", body: "{}", delay: .seconds(10))
                try await Task.sleep(for: .milliseconds(3100))
                let probe = try await gateway.get("/optional").json()
                #expect(probe.value(at: ["_meta", "calls", "x", "status"]) == "timeout")
                #expect(try await gateway.get("/optional").json().value(at: ["_meta", "calls", "x", "status"]) == "circuit_open")
            }
        }
    }

    @Test("proxied 5xx answers count toward the breaker, and an open breaker answers a proxied route 503 with Retry-After without calling the service", arguments: [true, false])
    func proxiedRoutes(fastAggregations: Bool) async throws {
        try await withStubs { stubs in
            let stub = stubs[0]
            stub.on("/x", .internalServerError, body: #"{"internal":"stack trace"}"#)
            let breaker = "{ min_requests: 4, failure_rate: 50%, open_for: 30s }"
            try await withGateway(Self.yaml(stub, breaker: breaker), fastAggregations: fastAggregations) { gateway in
                for _ in 0..<4 {
                    let passed = try await gateway.get("/p/x")
                    #expect(passed.status == 500, "a proxied answer is passed on as it is")
                }
                let open = try await gateway.get("/p/x")
                #expect(open.status == 503)
                #expect(open.header("Content-Type") == "application/problem+json")
                #expect(open.header("Retry-After") != nil)
                #expect(!open.text.contains("stack trace"))
                #expect(stub.requests(to: "/x").count == 4)
            }
        }
    }
}
