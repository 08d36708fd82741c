import BFFSpec
import Foundation
import NIOHTTP1
import Testing

@testable import BFFRuntime

/// `/metrics` on the admin listener, read by a real client after real traffic.
@Suite("Metrics and the admin listener", .timeLimit(.minutes(1)))
struct MetricsTests {
    static func yaml(_ stub: StubUpstream) -> String {
        """
        name: metrics-test
        services:
          svc: { url: "\(stub.url)" }
        endpoints:
          - route: GET /page/{id}
            calls:
              good: { service: svc, path: "/good/{path.id}" }
              bad:  { service: svc, path: /bad, fallback: [] }
          - route: GET /items/{rest*}
            proxy: { service: svc, path: "/items/{rest}" }
        """
    }

    @Test("requests are counted by route pattern and status, calls by outcome; durations are histograms")
    func countsRequestsAndCalls() async throws {
        try await withStubs { stubs in
            let stub = stubs[0]
            stub.on("/good/1", body: #"{"ok":true}"#)
            stub.on("/good/2", body: #"{"ok":true}"#)
            stub.on("/bad", .internalServerError, body: #"{"secret":"internal"}"#)
            stub.on("/items/a", body: "[]")
            try await withGateway(Self.yaml(stub), adminListener: true) { gateway in
                #expect(try await gateway.get("/page/1").status == 200)
                #expect(try await gateway.get("/page/2").status == 200)
                #expect(try await gateway.get("/items/a").status == 200)
                #expect(try await gateway.get("/nowhere").status == 404)

                let scrape = try await gateway.admin("/metrics")
                #expect(scrape.status == 200)
                #expect(scrape.header("Content-Type")?.hasPrefix("text/plain; version=0.0.4") == true)
                let text = scrape.text
                #expect(PrometheusText.value(text, "bff_http_requests_total", ["route": "/page/{id}", "status": "200"]) == 2)
                #expect(PrometheusText.value(text, "bff_http_requests_total", ["route": "/items/{rest*}", "status": "200"]) == 1)
                #expect(PrometheusText.value(text, "bff_http_requests_total", ["route": "unmatched", "status": "404"]) == 1)
                #expect(PrometheusText.value(text, "bff_upstream_calls_total", ["route": "/page/{id}", "call": "good", "outcome": "ok"]) == 2)
                #expect(PrometheusText.value(text, "bff_upstream_calls_total", ["route": "/page/{id}", "call": "bad", "outcome": "error"]) == 2)
                #expect(PrometheusText.value(text, "bff_http_request_duration_seconds_count", ["route": "/page/{id}"]) == 2)
                #expect(PrometheusText.value(text, "bff_upstream_call_duration_seconds_count", ["route": "/page/{id}", "call": "good"]) == 2)
                #expect(PrometheusText.value(text, "bff_http_requests_in_flight") == 0)
                #expect((PrometheusText.value(text, "bff_upstream_connections_open") ?? 0) >= 1, "the keep-alive connection to the stub")
                #expect(PrometheusText.value(text, "bff_circuit_breaker_state", ["service": "svc"]) == 0)
                #expect(!text.contains("/page/1"), "label values are route patterns, never request paths")
                #expect(!text.contains("internal"))
            }
        }
    }

    @Test("the public listener does not serve /metrics; the admin listener answers /health and /ready")
    func adminOnlyOnItsOwnPort() async throws {
        try await withStubs { stubs in
            try await withGateway(Self.yaml(stubs[0]), adminListener: true) { gateway in
                #expect(try await gateway.get("/metrics").status == 404)
                #expect(try await gateway.admin("/health").status == 200)
                let ready = try await gateway.admin("/ready")
                #expect(ready.status == 200)
                #expect(ready.text == #"{"status":"ready"}"#)
                #expect(gateway.adminPort != gateway.port)
            }
        }
    }
}
