import BFFRuntime
import BFFSpec
import Foundation
import Logging
import NIOHTTP1
import Testing

@testable import BFFRuntime

/// API keys with plans and quotas, and rate limits keyed by ip, user, key or header, over real sockets.
@Suite("Edge: API keys and rate limits", .timeLimit(.minutes(1)))
struct APIKeyAndLimitTests {
    static func partnerYAML(_ stub: StubUpstream, keysFile: String, trusted: String = "[]", extra: String = "") -> String {
        """
        name: partner-test
        services:
          svc: { url: "\(stub.url)" }
        trusted_proxies: \(trusted)
        auth:
          api_keys: { file: "\(keysFile)", reload: 100ms }
        plans:
          gold:   { rate: 100/s, burst: 100, quota: 1000/day }
          bronze: { rate: 1/h, burst: 3 }
          tiny:   { quota: 2/month }
        \(extra)
        endpoints:
          - route: GET /v1/items
            auth: api_key
            proxy: { service: svc, path: /items }
          - route: GET /v1/open
            auth: none
            rate_limit: { key: ip, rate: 1/h, burst: 2 }
            proxy: { service: svc, path: /open }
          - route: GET /v1/tenant
            auth: none
            rate_limit: { key: header.x-tenant, rate: 1/h, burst: 1 }
            proxy: { service: svc, path: /open }
        """
    }

    @Test("a valid key is admitted as its client; unknown keys are 401; revoking a line takes effect without restart")
    func keysAndRevocation() async throws {
        let gold = APIKeyLine.generate(client: "acme", plan: "gold")
        let other = APIKeyLine.generate(client: "globex", plan: "gold")
        let keysFile = TestTokens.file("# partner keys\n\(gold.line)\n\(other.line)\nnot a valid line\n")
        try await withStubs { stubs in
            let stub = stubs[0]
            stub.on("/items", body: "[]")
            try await withGateway(Self.partnerYAML(stub, keysFile: keysFile)) { gateway in
                let ok = try await gateway.get("/v1/items", headers: [("X-Api-Key", gold.key)])
                #expect(ok.status == 200)
                #expect(ok.header("RateLimit-Limit") != nil)
                let near = String(gold.key.dropLast()) + (gold.key.last == "A" ? "B" : "A")
                let refused = try await gateway.get("/v1/items", headers: [("X-Api-Key", near)])
                #expect(refused.status == 401)
                #expect(refused.header("Content-Type") == "application/problem+json")
                let missing = try await gateway.get("/v1/items")
                #expect(missing.status == 401)
                let inQuery = try await gateway.get("/v1/items?api_key=\(gold.key)")
                #expect(inQuery.status == 400)
                #expect(stub.requests.count == 1)

                try "\(other.line)\n".write(toFile: keysFile, atomically: true, encoding: .utf8)
                var revoked = false
                for _ in 0..<100 where !revoked {
                    revoked = try await gateway.get("/v1/items", headers: [("X-Api-Key", gold.key)]).status == 401
                    if !revoked { try await Task.sleep(for: .milliseconds(50)) }
                }
                #expect(revoked)
                let stillValid = try await gateway.get("/v1/items", headers: [("X-Api-Key", other.key)])
                #expect(stillValid.status == 200)
            }
        }
    }

    @Test("over a plan's rate: 429 with Retry-After and RateLimit headers; a used-up quota says when it resets")
    func planRateAndQuota() async throws {
        let bronze = APIKeyLine.generate(client: "small", plan: "bronze")
        let tiny = APIKeyLine.generate(client: "trial", plan: "tiny")
        let keysFile = TestTokens.file("\(bronze.line)\n\(tiny.line)\n")
        try await withStubs { stubs in
            let stub = stubs[0]
            stub.on("/items", body: "[]")
            try await withGateway(Self.partnerYAML(stub, keysFile: keysFile)) { gateway in
                var statuses: [Int] = []
                var remaining: [String] = []
                for _ in 0..<5 {
                    let response = try await gateway.get("/v1/items", headers: [("X-Api-Key", bronze.key)])
                    statuses.append(response.status)
                    remaining.append(response.header("RateLimit-Remaining") ?? "-")
                }
                #expect(statuses == [200, 200, 200, 429, 429])
                #expect(remaining == ["2", "1", "0", "0", "0"])
                let limited = try await gateway.get("/v1/items", headers: [("X-Api-Key", bronze.key)])
                #expect(limited.header("Content-Type") == "application/problem+json")
                let retryAfter = try #require(limited.header("Retry-After").flatMap(Int.init))
                #expect(retryAfter > 3000 && retryAfter <= 1200 * 3)
                #expect(limited.header("RateLimit-Limit") == "3")

                let quota = try await (0..<3).asyncMap { _ in try await gateway.get("/v1/items", headers: [("X-Api-Key", tiny.key)]) }
                #expect(quota.map(\.status) == [200, 200, 429])
                #expect(try quota[2].json()["detail"]?.templateText?.contains("monthly quota of 2 requests is used up") == true)
                #expect(Int(quota[2].header("Retry-After") ?? "") ?? 0 > 0)
                #expect(stub.requests.count == 5)
            }
        }
    }

    @Test("an ip limit holds however the client rewrites X-Forwarded-For from an untrusted peer")
    func forwardedForSpoofing() async throws {
        try await withStubs { stubs in
            let stub = stubs[0]
            stub.on("/open", body: "{}")
            try await withGateway(Self.partnerYAML(stub, keysFile: TestTokens.file(""))) { gateway in
                var statuses: [Int] = []
                for index in 0..<6 {
                    statuses.append(try await gateway.get("/v1/open", headers: [("X-Forwarded-For", "10.0.0.\(index)"), ("Forwarded", "for=10.1.0.\(index)")]).status)
                }
                #expect(statuses == [200, 200, 429, 429, 429, 429])
            }
        }
    }

    @Test("behind a trusted proxy, the right-most untrusted hop is the client: distinct clients get distinct budgets")
    func trustedProxyHops() async throws {
        try await withStubs { stubs in
            let stub = stubs[0]
            stub.on("/open", body: "{}")
            try await withGateway(Self.partnerYAML(stub, keysFile: TestTokens.file(""), trusted: "[127.0.0.0/8]")) { gateway in
                func status(_ xff: String) async throws -> Int { try await gateway.get("/v1/open", headers: [("X-Forwarded-For", xff)]).status }
                var statuses: [Int] = []
                for xff in ["1.1.1.1, 203.0.113.7", "2.2.2.2, 203.0.113.7", "3.3.3.3, 203.0.113.7", "203.0.113.8"] {
                    statuses.append(try await status(xff))
                }
                #expect(statuses == [200, 200, 429, 200])
            }
        }
    }

    @Test("a header-keyed limit counts per header value")
    func headerKey() async throws {
        try await withStubs { stubs in
            let stub = stubs[0]
            stub.on("/open", body: "{}")
            try await withGateway(Self.partnerYAML(stub, keysFile: TestTokens.file(""))) { gateway in
                func status(_ tenant: String) async throws -> Int { try await gateway.get("/v1/tenant", headers: [("X-Tenant", tenant)]).status }
                var statuses: [Int] = []
                for tenant in ["a", "a", "b"] { statuses.append(try await status(tenant)) }
                #expect(statuses == [200, 429, 200])
            }
        }
    }

    @Test("API key lookups take no measurably different time for near and far misses")
    func constantTimeLookup() throws {
        let valid = APIKeyLine.generate(client: "acme", plan: "gold")
        let store = try APIKeyStore(spec: APIKeySpec(env: "KEYS", location: SourceLocation(file: "t", line: 1)), environment: ["KEYS": valid.line], logger: Logger(label: "t"))
        // Many different near misses (one character changed) and far misses (fresh random keys), so
        // what is compared is closeness to the valid key, not where one particular key hashes to.
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        let characters = Array(valid.key)
        let nears: [String] = (0..<3000).map { round in
            var changed = characters
            let index = 5 + round % (characters.count - 5)
            changed[index] = alphabet.first { $0 != characters[index] && alphabet.firstIndex(of: $0)! >= round % alphabet.count } ?? "A"
            return String(changed)
        }
        let fars: [String] = (0..<3000).map { _ in APIKeyLine.generate(client: "x", plan: "y").key }
        let near = nears[0], far = fars[0]
        var nearTimes: [Double] = []
        var farTimes: [Double] = []
        let clock = ContinuousClock()
        for round in 0..<6000 {
            let key = round % 2 == 0 ? nears[round / 2] : fars[round / 2]
            let start = clock.now
            for _ in 0..<8 { _ = store.authenticate(key) }
            let elapsed = clock.now - start
            let nanos = Double(elapsed.components.attoseconds) / 1e9 + Double(elapsed.components.seconds) * 1e9
            if round % 2 == 0 { nearTimes.append(nanos) } else { farTimes.append(nanos) }
        }
        #expect(store.authenticate(valid.key)?.clientID == "acme")
        #expect(store.authenticate(near) == nil && store.authenticate(far) == nil)
        // Trim the slowest 10% (scheduler noise), then Welch's t on the rest: a real difference
        // between near and far misses over 2,700 samples each would give |t| far above 6.
        func trimmed(_ values: [Double]) -> [Double] { Array(values.sorted().prefix(values.count * 9 / 10)) }
        let a = trimmed(nearTimes), b = trimmed(farTimes)
        func mean(_ v: [Double]) -> Double { v.reduce(0, +) / Double(v.count) }
        func variance(_ v: [Double]) -> Double { let m = mean(v); return v.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(v.count - 1) }
        let t = (mean(a) - mean(b)) / ((variance(a) / Double(a.count) + variance(b) / Double(b.count)).squareRoot())
        #expect(abs(t) < 6, "Welch t = \(t), means \(mean(a)) vs \(mean(b)) ns")
    }
}

extension Sequence {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var results: [T] = []
        for element in self { results.append(try await transform(element)) }
        return results
    }
}
