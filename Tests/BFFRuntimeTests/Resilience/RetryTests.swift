import BFFSpec
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization
import Testing

@testable import BFFRuntime

/// Retries within a budget, only where repeating a request is safe, over real sockets.
@Suite("Resilience: retries", .timeLimit(.minutes(1)))
struct RetryTests {
    @Test("a GET call that gets 503 is retried and succeeds; _meta says how many attempts it took")
    func retriesA503() async throws {
        try await withStubs { stubs in
            let stub = stubs[0]
            let count = Mutex(0)
            stub.on("/x") { _ in
                count.withLock { $0 += 1; return $0 } == 1 ? StubResponse(.serviceUnavailable, "{}") : StubResponse(.ok, #"{"ok":true}"#)
            }
            let yaml = """
                name: retry-test
                services:
                  svc: { url: "\(stub.url)", retry: { attempts: 3, backoff: 1ms } }
                endpoints:
                  - route: GET /x
                    calls:
                      x: { service: svc, path: /x, required: true }
                """
            try await withGateway(yaml) { gateway in
                let json = try await gateway.get("/x").json()
                #expect(json.value(at: ["_meta", "calls", "x", "status"]) == "ok")
                #expect(json.value(at: ["_meta", "calls", "x", "attempts"]) == .number(2))
                #expect(stub.requests(to: "/x").count == 2)
            }
        }
    }

    @Test("a call whose instance refuses connections is retried on another instance")
    func retriesConnectFailureElsewhere() async throws {
        try await withRefusingPort { closedPort in try await withStubs { stubs in
            stubs[0].on("/x", body: "{}")
            let yaml = """
                name: retry-test
                services:
                  svc:
                    urls: ["http://127.0.0.1:\(closedPort)", "\(stubs[0].url)"]
                    balance: round_robin
                    outlier: off
                    retry: { attempts: 2, backoff: 1ms }
                endpoints:
                  - route: GET /x
                    calls:
                      x: { service: svc, path: /x, required: true }
                  - route: "* /p/{rest*}"
                    proxy: { service: svc, path: "/{rest}" }
                """
            try await withGateway(yaml) { gateway in
                for _ in 0..<6 {
                    let status = try await gateway.get("/x").status
                    #expect(status == 200)
                }
                for _ in 0..<6 {
                    let status = try await gateway.request(.POST, "/p/x").status
                    #expect(status == 200, "nothing reached the refusing instance, so even a POST moves on")
                }
            }
        } }
    }

    @Test("the retry budget caps amplification during an outage")
    func budgetCapsAmplification() async throws {
        try await withStubs { stubs in
            let stub = stubs[0]
            stub.on("/x", .serviceUnavailable, body: "{}")
            let yaml = """
                name: retry-test
                services:
                  svc: { url: "\(stub.url)", retry: { attempts: 3, backoff: 1ms, budget: 10%, min_per_second: 0 } }
                endpoints:
                  - route: GET /x
                    calls:
                      x: { service: svc, path: /x, fallback: null }
                """
            try await withGateway(yaml, adminListener: true) { gateway in
                for _ in 0..<100 { _ = try await gateway.get("/x") }
                let sent = stub.requests(to: "/x").count
                #expect(sent >= 100 && sent <= 100 + 10, "at most 10% more than the calls, not 3x: \(sent)")
                #expect(PrometheusText.value(try await gateway.admin("/metrics").text, "bff_upstream_retries_total", ["service": "svc"]) == Double(sent - 100))
            }
        }
    }

    @Test("a POST reaches a resetting upstream exactly once; a body-less GET, or a POST with an Idempotency-Key, is retried")
    func nonIdempotentNeverRepeated() async throws {
        let upstream = try await ResettingUpstream.start()
        let yaml = """
            name: retry-test
            services:
              svc: { url: "http://127.0.0.1:\(upstream.port)", retry: { attempts: 3, backoff: 1ms } }
            endpoints:
              - route: "* /p/{rest*}"
                proxy: { service: svc, path: "/{rest}" }
            """
        do {
            try await withGateway(yaml) { gateway in
                let posted = try await gateway.request(.POST, "/p/orders", headers: [("Content-Type", "text/plain")], body: "order=1")
                #expect(posted.status == 502)
                #expect(upstream.requests(.POST) == 1, "a POST that reached the service is never sent again")

                #expect(try await gateway.get("/p/orders").status == 502)
                #expect(upstream.requests(.GET) == 3)

                _ = try await gateway.request(.POST, "/p/pay", headers: [("Idempotency-Key", "k-1")])
                #expect(upstream.requests(.POST) == 1 + 3)
            }
        } catch {
            try await upstream.shutdown()
            throw error
        }
        try await upstream.shutdown()
    }
}
