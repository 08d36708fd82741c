import BFFSpec
import Foundation
import Testing

/// Instances, balancing, health checks, ejection, breakers, retries, hedging and deadlines in the spec.
@Suite("SpecLoader: resilience")
struct ResilienceSpecTests {
    @Test("every knob loads, with defaults where a section leaves one out")
    func loadsEveryKnob() throws {
        let spec = try SpecLoader.load(
            yaml: """
                name: t
                deadlines: { header: X-Time-Left, min_remaining: 20ms }
                services:
                  users:
                    urls: [http://127.0.0.1:9001, { url: http://127.0.0.1:9011, weight: 3 }]
                    balance: weighted
                    health_check: { path: /live, interval: 2s, timeout: 500ms, unhealthy: 4 }
                    outlier: { consecutive_failures: 3, ejection: 5s, max_ejected: 30% }
                    circuit_breaker: { min_requests: 10, failure_rate: 25%, open_for: 2s }
                    retry: { attempts: 3, budget: 0.1 }
                  plain: { url: http://127.0.0.1:9002, outlier: off }
                endpoints:
                  - route: GET /a
                    calls:
                      a: { service: users, path: /a, hedge: { after: p95, max: 2 } }
                      b: { service: plain, path: /b, hedge: { after: 40ms } }
                """,
            file: "t.yaml"
        )
        let users = try #require(spec.services["users"])
        #expect(users.instances.map(\.url.port) == [9001, 9011])
        #expect(users.instances.map(\.weight) == [1, 3])
        #expect(users.url.port == 9001)
        #expect(users.balance == .weighted)
        #expect(users.healthCheck?.path == "/live")
        #expect(users.healthCheck?.unhealthyThreshold == 4)
        #expect(users.healthCheck?.healthyThreshold == 2)
        #expect(users.outlier?.consecutiveFailures == 3)
        #expect(users.outlier?.maxEjectedShare == 0.3)
        #expect(users.circuitBreaker?.failureRate == 0.25)
        #expect(users.circuitBreaker?.halfOpenProbes == 3)
        #expect(users.retry?.attempts == 3)
        #expect(users.retry?.budget == 0.1)
        #expect(users.retry?.backoff == .milliseconds(25))
        let plain = try #require(spec.services["plain"])
        #expect(plain.outlier == nil)
        #expect(plain.balance == .leastOutstanding)
        #expect(plain.instances.count == 1)
        #expect(spec.deadlines == DeadlineSpec(header: "X-Time-Left", minRemaining: .milliseconds(20)))
        let calls = try #require(spec.endpoints.first?.aggregate?.calls)
        #expect(calls[0].hedge == HedgeSpec(after: .p95, max: 2))
        #expect(calls[1].hedge == HedgeSpec(after: .delay(.milliseconds(40))))
    }

    @Test("deadlines default to X-Request-Deadline-Ms and 5 ms; header off sends none")
    func deadlineDefaults() throws {
        #expect(try SpecLoader.load(yaml: "name: t\n", file: "t.yaml").deadlines == DeadlineSpec())
        #expect(try SpecLoader.load(yaml: "name: t\ndeadlines: { header: off }\n", file: "t.yaml").deadlines.header == nil)
    }

    @Test("mistakes are reported at their line with what to write instead", arguments: [
        ("services:\n  s: { url: http://a:1, urls: [http://b:1] }\n", 3, "has both url and urls"),
        ("services:\n  s: { urls: [] }\n", 3, "urls of service 's' is empty"),
        ("services:\n  s: { urls: [http://a:1, https://b:1] }\n", 3, "mixes http and https"),
        ("services:\n  s: { urls: [ftp://a] }\n", 3, "is not an http(s) URL"),
        ("services:\n  s: { urls: [{ url: http://a:1, weight: 0 }] }\n", 3, "weight must be a positive whole number"),
        ("services:\n  s: { url: http://a:1, balance: random }\n", 3, "balance 'random' is not a strategy"),
        ("services:\n  s: { url: http://a:1, health_check: { path: health } }\n", 3, "is not an absolute path"),
        ("services:\n  s: { url: http://a:1, health_check: { interval: 1s, timeout: 2s } }\n", 3, "longer than its interval"),
        ("services:\n  s: { url: http://a:1, circuit_breaker: { failure_rate: 150% } }\n", 3, "failure_rate '150%' is not a share"),
        ("services:\n  s: { url: http://a:1, circuit_breaker: { failur_rate: 50% } }\n", 3, "unknown key 'failur_rate'"),
        ("services:\n  s: { url: http://a:1, retry: { attempts: 0 } }\n", 3, "attempts must be a positive whole number"),
        ("services:\n  s: { url: http://a:1 }\nendpoints:\n  - route: GET /a\n    calls:\n      c: { service: s, path: /c, hedge: { max: 1 } }\n", 7, "hedge has no 'after'"),
        ("deadlines: { header: \"Bad Header\" }\n", 2, "is not a header name"),
    ])
    func mistakes(yaml: String, line: Int, message: String) throws {
        let diagnostics = SpecFixtures.diagnostics("name: t\n" + yaml)
        let matching = diagnostics.filter { $0.message.contains(message) }
        #expect(matching.count == 1, "expected one diagnostic containing \"\(message)\" in \(diagnostics.map(\.description))")
        #expect(matching.first?.location.line == line)
        #expect(matching.first?.hint != nil || message.contains("positive whole number"))
    }
}
