import BFFSpec
import Foundation
import NIOCore
import NIOHTTP1
import Testing

@testable import BFFRuntime

/// Hedged requests and deadline propagation, over real sockets.
@Suite("Resilience: hedging and deadlines", .timeLimit(.minutes(1)))
struct HedgeAndDeadlineTests {
    @Test("a hedged call wins on the second instance when the first stalls, and the stalled request is cancelled")
    func hedgeWins() async throws {
        try await withStubs(2) { stubs in
            stubs[0].on("/x", body: #"{"from":"stalled"}"#, delay: .seconds(3))
            stubs[1].on("/x", body: #"{"from":"quick"}"#)
            let yaml = """
                name: hedge-test
                services:
                  svc: { urls: ["\(stubs[0].url)", "\(stubs[1].url)"], balance: round_robin, outlier: off }
                endpoints:
                  - route: GET /x
                    calls:
                      x: { service: svc, path: /x, timeout: 5s, required: true, hedge: { after: 200ms } }
                """
            try await withGateway(yaml, adminListener: true) { gateway in
                var hedged = 0
                for _ in 0..<4 {
                    let json = try await gateway.get("/x").json()
                    #expect(json.value(at: ["x", "from"]) == "quick")
                    if json.value(at: ["_meta", "calls", "x", "hedged"]) == .bool(true) { hedged += 1 }
                }
                #expect(hedged >= 1, "calls that went to the stalled instance first were hedged")
                // A hedge may win before its loser has even reached the stalled stub on a busy machine,
                // so count the losers that arrived: every one of them must have been abandoned.
                let cancelled = await stubs[0].eventually(within: .seconds(5)) { stub in
                    let arrived = stub.requests(to: "/x").count
                    return stub.cancelledCount == arrived
                }
                #expect(cancelled, "each losing request that reached the stalled instance was abandoned")
                #expect(PrometheusText.value(try await gateway.admin("/metrics").text, "bff_upstream_hedges_total", ["service": "svc"]) == Double(hedged))
            }
        }
    }

    @Test("hedging after p95 waits for enough latency samples, then hedges calls slower than that")
    func hedgeAfterP95() async throws {
        try await withStubs { stubs in
            let stub = stubs[0]
            stub.on("/x", body: "{}", delay: .milliseconds(5))
            let yaml = """
                name: hedge-test
                services:
                  svc: { url: "\(stub.url)" }
                endpoints:
                  - route: GET /x
                    calls:
                      x: { service: svc, path: /x, timeout: 5s, hedge: { after: p95 } }
                """
            try await withGateway(yaml) { gateway in
                // The slowest round trip bounds every call latency the p95 is taken from.
                var slowest = Duration.zero
                let clock = ContinuousClock()
                for _ in 0..<LatencyWindow.minimumSamples {
                    let started = clock.now
                    let json = try await gateway.get("/x").json()
                    slowest = max(slowest, clock.now - started)
                    #expect(json.value(at: ["_meta", "calls", "x", "hedged"]) == nil, "no hedging before there is a p95")
                }
                // Slower than all of them, however slow a busy machine made them, within the call's 5 s.
                let delay = min(max(.milliseconds(500), slowest * 2), .milliseconds(4500))
                stub.on("/x", body: "{}", delay: .nanoseconds(delay.nanosecondsValue))
                let slow = try await gateway.get("/x").json()
                #expect(slow.value(at: ["_meta", "calls", "x", "hedged"]) == .bool(true))
            }
        }
    }

    @Test("each call carries the milliseconds it has left, and a call with too little time left is not started")
    func deadlines() async throws {
        try await withStubs { stubs in
            let stub = stubs[0]
            stub.on("/first", body: #"{"id":"a"}"#, delay: .seconds(1))
            stub.on("/quick", body: "{}")
            stub.on("/second/a", body: "{}")
            let yaml = """
                name: deadline-test
                deadlines: { min_remaining: 1500ms }
                services:
                  svc: { url: "\(stub.url)", timeout: 3s }
                endpoints:
                  - route: GET /quick
                    timeout: 5s
                    calls:
                      q: { service: svc, path: /quick, timeout: 3s }
                  - route: GET /chain
                    timeout: 2s
                    calls:
                      first:  { service: svc, path: /first }
                      second: { service: svc, path: "/second/{first.id}" }
                """
            try await withGateway(yaml) { gateway in
                #expect(try await gateway.get("/quick").status == 200)
                let header = stub.requests(to: "/quick").first?.headers.first(name: "X-Request-Deadline-Ms").flatMap(Int.init)
                #expect(header.map { $0 > 2000 && $0 <= 3000 } == true, "the call's own 3 s, less what has passed: \(String(describing: header))")

                let json = try await gateway.get("/chain").json()
                #expect(json.value(at: ["_meta", "calls", "first", "status"]) == "ok")
                #expect(json.value(at: ["_meta", "calls", "second", "status"]) == "skipped")
                #expect(stub.requests(to: "/second/a").isEmpty)
            }
        }
    }
}
