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

    @Test("a call whose instance refuses connections is retried on another instance", arguments: [true, false])
    func retriesConnectFailureElsewhere(fastAggregations: Bool) async throws {
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
            try await withGateway(yaml, fastAggregations: fastAggregations) { gateway in
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

    // MARK: Proxied 5xx

    /// Makes `path` answer `status` (with `body`) to its first request and 200 after.
    static func failingOnce(_ stub: StubUpstream, _ path: String, _ status: HTTPResponseStatus = .serviceUnavailable, body: String = #"{"busy":true}"#) {
        let count = Mutex(0)
        stub.on(path) { _ in
            count.withLock { $0 += 1; return $0 } == 1 ? StubResponse(status, body) : StubResponse(.ok, #"{"ok":true}"#)
        }
    }

    static func proxyYAML(_ stub: StubUpstream, retry: String?) -> String {
        """
        name: retry-test
        services:
          svc: { url: "\(stub.url)"\(retry.map { ", retry: \($0)" } ?? "") }
        endpoints:
          - route: "* /p/{rest*}"
            proxy: { service: svc, path: "/{rest}" }
        """
    }

    @Test("a proxied GET answered 503 is retried and gets 200; a POST without an Idempotency-Key gets the 503 from its only try; one with a key is retried", arguments: [true, false])
    func proxied503(fastAggregations: Bool) async throws {
        try await withStubs { stubs in
            let stub = stubs[0]
            for path in ["/get", "/post", "/keyed"] { Self.failingOnce(stub, path) }
            Self.failingOnce(stub, "/bad-gateway", .badGateway)
            Self.failingOnce(stub, "/gateway-timeout", .gatewayTimeout)
            Self.failingOnce(stub, "/internal", .internalServerError)
            try await withGateway(Self.proxyYAML(stub, retry: "{ attempts: 3, backoff: 1ms }"), adminListener: true, fastAggregations: fastAggregations) { gateway in
                let got = try await gateway.get("/p/get")
                #expect(got.status == 200)
                #expect(got.text == #"{"ok":true}"#, "nothing of the 503 reaches the client")
                #expect(stub.requests(to: "/get").count == 2)

                let posted = try await gateway.request(.POST, "/p/post")
                #expect(posted.status == 503, "a POST that reached the service is never sent again")
                #expect(posted.text == #"{"busy":true}"#, "the last try's answer is passed on as it is")
                #expect(stub.requests(to: "/post").count == 1)

                #expect(try await gateway.request(.POST, "/p/keyed", headers: [("Idempotency-Key", "k-1")]).status == 200)
                #expect(stub.requests(to: "/keyed").count == 2)

                #expect(try await gateway.get("/p/bad-gateway").status == 200)
                #expect(try await gateway.request(.DELETE, "/p/gateway-timeout").status == 200)
                #expect(try await gateway.get("/p/internal").status == 500, "a 500 says the request itself failed: passed on, not retried")
                #expect(stub.requests(to: "/internal").count == 1)
                let retries = PrometheusText.value(try await gateway.admin("/metrics").text, "bff_upstream_retries_total", ["service": "svc"])
                #expect(retries == 4)
            }
        }
    }

    @Test("a proxied GET answered 503 by every try gets the last 503 with its body; without retry: declared the first 503 is passed on", arguments: [true, false])
    func proxied503PassedOn(fastAggregations: Bool) async throws {
        try await withStubs { stubs in
            let stub = stubs[0]
            stub.on("/down", .serviceUnavailable, body: #"{"busy":"always"}"#)
            try await withGateway(Self.proxyYAML(stub, retry: "{ attempts: 3, backoff: 1ms }"), fastAggregations: fastAggregations) { gateway in
                let answer = try await gateway.get("/p/down")
                #expect(answer.status == 503)
                #expect(answer.text == #"{"busy":"always"}"#)
                #expect(stub.requests(to: "/down").count == 3)
            }
            Self.failingOnce(stub, "/once")
            try await withGateway(Self.proxyYAML(stub, retry: nil), fastAggregations: fastAggregations) { gateway in
                let answer = try await gateway.get("/p/once")
                #expect(answer.status == 503)
                #expect(answer.text == #"{"busy":true}"#)
                #expect(stub.requests(to: "/once").count == 1)
            }
        }
    }

    @Test("a retried 503 whose large body has not arrived whole is dropped with its connection, never reused half-read", arguments: [true, false])
    func proxied503LargeBodyDropped(fastAggregations: Bool) async throws {
        try await withStubs { stubs in
            let stub = stubs[0]
            // Far more than the proxy reads ahead of its client (eight chunks), so it cannot arrive whole.
            let large = String(repeating: "x", count: 1 << 20)
            Self.failingOnce(stub, "/big", body: large)
            stub.on("/after", body: #"{"after":true}"#)
            try await withGateway(Self.proxyYAML(stub, retry: "{ attempts: 2, backoff: 1ms }"), fastAggregations: fastAggregations) { gateway in
                let answer = try await gateway.get("/p/big")
                #expect(answer.status == 200)
                #expect(answer.text == #"{"ok":true}"#)
                for _ in 0..<5 {
                    let next = try await gateway.get("/p/after")
                    #expect(next.status == 200)
                    #expect(next.text == #"{"after":true}"#, "no left-over bytes of the dropped 503 on a pooled connection")
                }
                #expect(stub.requests(to: "/big").count == 2)
            }
        }
    }

    @Test("a proxied retry starts only with min_remaining of the route's timeout left after its pause: a 503 that took most of it is passed on", arguments: [true, false])
    func proxiedRetryWithinTimeout(fastAggregations: Bool) async throws {
        try await withStubs { stubs in
            let stub = stubs[0]
            let count = Mutex(0)
            stub.on("/slow") { _ in
                count.withLock { $0 += 1; return $0 } == 1
                    ? StubResponse(.serviceUnavailable, #"{"busy":true}"#, delay: .milliseconds(300))
                    : StubResponse(.ok, #"{"ok":true}"#)
            }
            let yaml = """
                name: retry-test
                services:
                  svc: { url: "\(stub.url)", timeout: 600ms, retry: { attempts: 3, backoff: 100ms, max_backoff: 100ms } }
                deadlines: { min_remaining: 400ms }
                endpoints:
                  - route: "* /p/{rest*}"
                    proxy: { service: svc, path: "/{rest}" }
                """
            try await withGateway(yaml, fastAggregations: fastAggregations) { gateway in
                let answer = try await gateway.get("/p/slow")
                #expect(answer.status == 503, "about 300 ms were left, less than min_remaining: no retry")
                #expect(stub.requests(to: "/slow").count == 1)
            }
        }
    }
}
