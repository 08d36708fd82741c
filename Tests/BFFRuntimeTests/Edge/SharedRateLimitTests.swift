import BFFSpec
import Foundation
import Testing

@testable import BFFRuntime

/// Rate limits kept in a real redis-server, through gateways over real sockets: replicas share one
/// budget, and a Redis that dies mid-run is met with the declared `on_store_error`.
@Suite("Edge: rate limits shared in Redis", .timeLimit(.minutes(1)))
struct SharedRateLimitTests {
    static func yaml(_ stub: StubUpstream, redis: RedisServer, onStoreError: String, burst: Int, timeout: String = "200ms") -> String {
        """
        name: shared-limits
        services:
          svc: { url: "\(stub.url)" }
        rate_limits:
          store: \(redis.url)
          on_store_error: \(onStoreError)
          timeout: \(timeout)
        endpoints:
          - route: GET /v1/open
            auth: none
            rate_limit: { key: ip, rate: 1/h, burst: \(burst) }
            proxy: { service: svc, path: /open }
        """
    }

    @Test("two BFF replicas on one Redis share one budget: 30 requests alternating between them at burst 10 give 10")
    func replicasShareOneBudget() async throws {
        try await RedisServer.with { redis in
            try await withStubs { stubs in
                let stub = stubs[0]
                stub.on("/open", body: "{}")
                let yaml = Self.yaml(stub, redis: redis, onStoreError: "deny", burst: 10)
                try await withGateway(yaml) { first in
                    try await withGateway(yaml) { second in
                        var statuses: [Int] = []
                        for index in 0..<30 {
                            let gateway = index.isMultiple(of: 2) ? first : second
                            statuses.append(try await gateway.get("/v1/open").status)
                        }
                        #expect(statuses.filter { $0 == 200 }.count == 10)
                        #expect(statuses.filter { $0 == 429 }.count == 20)
                        #expect(Array(statuses.prefix(10)) == Array(repeating: 200, count: 10), "the shared burst is used first, from both replicas")
                        #expect(stub.requests(to: "/open").count == 10)
                    }
                }
            }
        }
    }

    @Test("rate_limits timeout bounds the wait for a stalled Redis: 100 ms gives a prompt 503 under deny, 5 s waits the stall out and answers 200")
    func storeTimeout() async throws {
        try await RedisServer.with { redis in
            try await withStubs { stubs in
                let stub = stubs[0]
                stub.on("/open", body: "{}")
                let pause: @Sendable () async throws -> Void = {
                    let client = redis.client()
                    _ = try? await client.send(["CLIENT", "PAUSE", "1500", "ALL"])
                    await client.shutdown()
                }
                try await withGateway(Self.yaml(stub, redis: redis, onStoreError: "deny", burst: 100, timeout: "100ms")) { gateway in
                    #expect(try await gateway.get("/v1/open").status == 200, "connected and within the burst")
                    try await pause()
                    let started = ContinuousClock.now
                    #expect(try await gateway.get("/v1/open").status == 503)
                    #expect(ContinuousClock.now - started < .milliseconds(1200), "the check gave up at its timeout, not when Redis came back")
                }
                try await Task.sleep(for: .milliseconds(1600))
                try await withGateway(Self.yaml(stub, redis: redis, onStoreError: "deny", burst: 100, timeout: "5s")) { gateway in
                    let first = try await gateway.get("/v1/open")
                    #expect(first.status == 200, "\(first.text)")
                    try await pause()
                    #expect(try await gateway.get("/v1/open").status == 200, "a stall shorter than the timeout is waited out")
                }
            }
        }
    }

    @Test("Redis killed mid-run with on_store_error allow: requests pass and the failures are counted in /metrics; after a restart the limit holds again")
    func redisKilledAllow() async throws {
        try await RedisServer.with { redis in
            try await withStubs { stubs in
                let stub = stubs[0]
                stub.on("/open", body: "{}")
                try await withGateway(Self.yaml(stub, redis: redis, onStoreError: "allow", burst: 2), adminListener: true) { gateway in
                    #expect(try await gateway.get("/v1/open").status == 200)
                    #expect(try await gateway.get("/v1/open").status == 200)
                    #expect(try await gateway.get("/v1/open").status == 429)

                    redis.kill()
                    for _ in 0..<5 {
                        let answer = try await gateway.get("/v1/open")
                        #expect(answer.status == 200, "with Redis down, allow mode lets requests through")
                        #expect(answer.header("RateLimit-Limit") == nil, "no budget is claimed when the store did not answer")
                    }
                    let metrics = try await gateway.admin("/metrics").text
                    #expect((PrometheusText.value(metrics, "bff_rate_limit_store_errors_total") ?? 0) >= 5)

                    try await redis.start()
                    let limitedAgain = await eventually(within: .seconds(10)) {
                        (try? await gateway.get("/v1/open").status) == 429
                    }
                    #expect(limitedAgain, "once Redis is back the limit applies again")
                }
            }
        }
    }

    @Test("Redis killed mid-run with on_store_error deny: 503 problem+json with Retry-After, and nothing reaches the upstream")
    func redisKilledDeny() async throws {
        try await RedisServer.with { redis in
            try await withStubs { stubs in
                let stub = stubs[0]
                stub.on("/open", body: "{}")
                try await withGateway(Self.yaml(stub, redis: redis, onStoreError: "deny", burst: 100)) { gateway in
                    #expect(try await gateway.get("/v1/open").status == 200)
                    redis.kill()
                    let refused = try await gateway.get("/v1/open")
                    #expect(refused.status == 503)
                    #expect(refused.header("Content-Type") == "application/problem+json")
                    #expect(refused.header("Retry-After") == "1")
                    #expect(!refused.text.contains("127.0.0.1"), "the problem never names the store's address")
                    #expect(stub.requests(to: "/open").count == 1)
                }
            }
        }
    }
}
