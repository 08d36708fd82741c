import BFFSpec
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization
import Testing

@testable import BFFRuntime

/// Several instances per service: how calls are spread, ejected and health-checked, over real sockets.
@Suite("Resilience: balancing, ejection and health checks", .timeLimit(.minutes(1)))
struct BalancingTests {
    static func yaml(_ urls: [String], service extra: String = "", endpoint: String = "", endpointTimeout: String = "2s") -> String {
        """
        name: balance-test
        services:
          svc:
            urls: [\(urls.joined(separator: ", "))]
        \(extra.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n"))
        endpoints:
          - route: GET /x
            timeout: \(endpointTimeout)
            calls:
              x: { service: svc, path: /x, fallback: "none"\(endpoint) }
        """
    }

    @Test("round robin spreads calls evenly; weighted in proportion, interleaved")
    func roundRobinAndWeighted() async throws {
        try await withStubs(3) { stubs in
            for stub in stubs { stub.on("/x", body: "{}") }
            try await withGateway(Self.yaml(stubs.map { "\"\($0.url)\"" }, service: "balance: round_robin")) { gateway in
                for _ in 0..<30 {
                    let status = try await gateway.get("/x").status
                    #expect(status == 200)
                }
                #expect(stubs.map { $0.requests(to: "/x").count } == [10, 10, 10])
            }
            let weighted = ["{ url: \"\(stubs[0].url)\", weight: 3 }", "{ url: \"\(stubs[1].url)\", weight: 1 }"]
            try await withGateway(Self.yaml(weighted, service: "balance: weighted")) { gateway in
                for _ in 0..<40 {
                    let status = try await gateway.get("/x").status
                    #expect(status == 200)
                }
                #expect(stubs[0].requests(to: "/x").count == 10 + 30)
                #expect(stubs[1].requests(to: "/x").count == 10 + 10)
            }
        }
        #expect(ServiceCluster.smoothWeightedOrder([3, 1]) == [0, 0, 1, 0], "a heavy instance does not take its whole share in a row")
    }

    @Test("least outstanding (the default) sends new calls to the instance with fewer in flight")
    func leastOutstanding() async throws {
        try await withStubs(2) { stubs in
            stubs[0].on("/x", body: #"{"from":"slow"}"#, delay: .seconds(4))
            stubs[1].on("/x", body: #"{"from":"fast"}"#)
            try await withGateway(Self.yaml(stubs.map { "\"\($0.url)\"" }, endpoint: ", timeout: 6s", endpointTimeout: "6s")) { gateway in
                // Keep one call in flight at the slow instance, then send more one by one.
                async let held: TestResponse? = {
                    for _ in 0..<10 {
                        let answer = try? await gateway.get("/x")
                        if answer?.text.contains("slow") == true { return answer }
                    }
                    return nil
                }()
                let slowBusy = await stubs[0].eventually(within: .seconds(5)) { $0.requests(to: "/x").count == 1 }
                #expect(slowBusy)
                for _ in 0..<10 {
                    let text = try await gateway.get("/x").text
                    #expect(text.contains("fast"))
                }
                #expect(stubs[0].requests(to: "/x").count == 1, "round robin would have sent half of them to the busy instance")
                _ = await held
            }
        }
    }

    @Test("an instance failing calls in a row is ejected, comes back after the ejection time, and never more than the allowed share is out")
    func outlierEjection() async throws {
        try await withStubs(2) { stubs in
            stubs[0].on("/x", .internalServerError, body: "{}")
            stubs[1].on("/x", body: "{}")
            let outlier = "balance: round_robin\noutlier: { consecutive_failures: 3, ejection: 3s, max_ejected: 50% }"
            try await withGateway(Self.yaml(stubs.map { "\"\($0.url)\"" }, service: outlier), adminListener: true) { gateway in
                for _ in 0..<20 { _ = try await gateway.get("/x") }
                #expect(stubs[0].requests(to: "/x").count == 3, "ejected after its third failure in a row")
                #expect(stubs[1].requests(to: "/x").count == 17)
                let breakers = try await gateway.admin("/admin/breakers").json()
                #expect(breakers.value(at: ["svc", "instances"]).flatMap { if case .array(let a) = $0 { a.first?["ejected"] } else { nil } } == .bool(true))
                #expect(PrometheusText.value(try await gateway.admin("/metrics").text, "bff_upstream_ejections_total", ["service": "svc"]) == 1)

                try await Task.sleep(for: .milliseconds(3100))
                for _ in 0..<4 { _ = try await gateway.get("/x") }
                #expect(stubs[0].requests(to: "/x").count > 3, "back in rotation once its ejection ended")
            }
            // Both failing: only one of the two may be out at a time, so both keep getting calls.
            stubs[1].on("/x", .internalServerError, body: "{}")
            try await withGateway(Self.yaml(stubs.map { "\"\($0.url)\"" }, service: outlier)) { gateway in
                let before = stubs.map { $0.requests(to: "/x").count }
                for _ in 0..<20 { _ = try await gateway.get("/x") }
                let after = stubs.map { $0.requests(to: "/x").count }
                #expect(zip(after, before).map { $0 - $1 }.sorted() == [3, 17])
            }
        }
    }

    @Test("active health checks take a failing instance out and bring it back; /ready follows a required service with no healthy instance")
    func healthChecks() async throws {
        try await withStubs(2) { stubs in
            let health = StubFlag()
            stubs[0].on("/health") { _ in health.isOn ? StubResponse(.ok, "{}") : StubResponse(.serviceUnavailable, "{}") }
            stubs[1].on("/health", body: "{}")
            for stub in stubs { stub.on("/x", body: "{}") }
            let yaml = """
                name: health-test
                services:
                  svc:
                    urls: ["\(stubs[0].url)", "\(stubs[1].url)"]
                    balance: round_robin
                    health_check: { path: /health, interval: 50ms, timeout: 50ms, healthy: 1, unhealthy: 2 }
                  lone:
                    url: "\(stubs[0].url)"
                    health_check: { path: /health, interval: 50ms, timeout: 50ms, healthy: 1, unhealthy: 2 }
                endpoints:
                  - route: GET /x
                    calls:
                      x: { service: svc, path: /x }
                  - route: GET /lone
                    calls:
                      x: { service: lone, path: /x, required: true }
                """
            try await withGateway(yaml) { gateway in
                let out = await eventually(within: .seconds(5)) { (try? await gateway.get("/ready").status) == 503 }
                #expect(out, "the only instance of a required service fails its checks: not ready")
                let before = stubs[0].requests(to: "/x").count
                for _ in 0..<10 { #expect(try await gateway.get("/x").status == 200) }
                #expect(stubs[0].requests(to: "/x").count == before, "an unhealthy instance gets no calls")

                health.isOn = true
                let back = await eventually(within: .seconds(5)) { (try? await gateway.get("/ready").status) == 200 }
                #expect(back)
                // `lone` and `svc` have their own checkers: /ready follows `lone`, so wait for `svc` to take
                // the instance back too before counting its share.
                let rejoined = await eventually(within: .seconds(5)) {
                    _ = try? await gateway.get("/x")
                    return stubs[0].requests(to: "/x").count > before
                }
                #expect(rejoined, "a recovered instance gets calls again")
                let settled = stubs[0].requests(to: "/x").count
                for _ in 0..<10 { _ = try await gateway.get("/x") }
                #expect(stubs[0].requests(to: "/x").count == settled + 5, "round robin over two healthy instances")
            }
        }
    }
}

/// A switch a stub responder reads, flipped by the test.
final class StubFlag: Sendable {
    private let state = Mutex(false)
    var isOn: Bool {
        get { state.withLock { $0 } }
        set { state.withLock { $0 = newValue } }
    }
}
