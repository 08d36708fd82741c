import BFFRuntime
import BFFSpec
import Crypto
import Foundation
import NIOHTTP1
import Testing

/// Keys from a JWKS URL served by a real local stub identity provider.
@Suite("Edge: JWKS", .timeLimit(.minutes(1)))
struct JWKSTests {
    static func yaml(idp: StubUpstream, api: StubUpstream, minInterval: String = "1s", maxBytes: String = "64KiB") -> String {
        """
        name: jwks-test
        services:
          svc: { url: "\(api.url)" }
        auth:
          jwt:
            jwks: { url: "\(idp.url)/jwks.json", min_interval: \(minInterval), max_bytes: \(maxBytes), timeout: 1s }
        endpoints:
          - route: GET /me
            auth: jwt
            proxy: { service: svc, path: /me }
        """
    }

    static func statuses(_ gateway: TestGateway, _ tokens: [String]) async throws -> [Int] {
        try await withThrowingTaskGroup(of: Int.self) { group in
            for token in tokens {
                group.addTask { try await gateway.get("/me", headers: [("Authorization", "Bearer \(token)")]).status }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
    }

    @Test("keys from the JWKS verify; a flood of unknown kids makes at most one fetch per min_interval")
    func unknownKidFlood() async throws {
        let key = P256.Signing.PrivateKey()
        try await withStubs(2) { stubs in
            let (idp, api) = (stubs[0], stubs[1])
            idp.on("/jwks.json", body: TestTokens.jwks([TestTokens.jwk(key, kid: "k1")]))
            api.on("/me", body: "{}")
            try await withGateway(Self.yaml(idp: idp, api: api, minInterval: "30s")) { gateway in
                #expect(await idp.eventually { $0.requests.count == 1 })
                let good = try await Self.statuses(gateway, [TestTokens.es256(key, kid: "k1", claims: TestTokens.claims())])
                #expect(good == [200])
                let forged = (0..<200).map { TestTokens.es256(P256.Signing.PrivateKey(), kid: "unknown-\($0)", claims: TestTokens.claims()) }
                let refused = try await Self.statuses(gateway, forged)
                #expect(refused.allSatisfy { $0 == 401 })
                #expect(idp.requests.count == 1, "the background fetch only; unknown kids within min_interval fetch nothing")
            }
        }
    }

    @Test("a rotated key is picked up by an unknown-kid fetch once min_interval has passed; concurrent requests share it")
    func rotation() async throws {
        let old = P256.Signing.PrivateKey()
        let new = P256.Signing.PrivateKey()
        try await withStubs(2) { stubs in
            let (idp, api) = (stubs[0], stubs[1])
            idp.on("/jwks.json", body: TestTokens.jwks([TestTokens.jwk(old, kid: "old")]))
            api.on("/me", body: "{}")
            try await withGateway(Self.yaml(idp: idp, api: api, minInterval: "200ms")) { gateway in
                #expect(await idp.eventually { $0.requests.count == 1 })
                idp.on("/jwks.json", body: TestTokens.jwks([TestTokens.jwk(old, kid: "old"), TestTokens.jwk(new, kid: "new")]))
                try await Task.sleep(for: .milliseconds(250))
                let tokens = (0..<50).map { _ in TestTokens.es256(new, kid: "new", claims: TestTokens.claims()) }
                #expect(try await Self.statuses(gateway, tokens).allSatisfy { $0 == 200 })
                #expect(idp.requests.count == 2)
            }
        }
    }

    @Test("while the IdP is down, answers garbage, or sends an oversized set, the last good keys stay")
    func lastGoodKeysKept() async throws {
        let key = P256.Signing.PrivateKey()
        try await withStubs(2) { stubs in
            let (idp, api) = (stubs[0], stubs[1])
            idp.on("/jwks.json", body: TestTokens.jwks([TestTokens.jwk(key, kid: "k1")]))
            api.on("/me", body: "{}")
            try await withGateway(Self.yaml(idp: idp, api: api, minInterval: "100ms", maxBytes: "4KiB")) { gateway in
                #expect(await idp.eventually { $0.requests.count == 1 })
                let token = TestTokens.es256(key, kid: "k1", claims: TestTokens.claims())
                let unknown = TestTokens.es256(key, kid: "k2", claims: TestTokens.claims())
                for (index, failure) in [
                    StubResponse(.internalServerError, "down"),
                    StubResponse(.ok, "{not json"),
                    StubResponse(.ok, TestTokens.jwks((0..<40).map { TestTokens.jwk(P256.Signing.PrivateKey(), kid: "big\($0)") })),
                ].enumerated() {
                    idp.on("/jwks.json") { _ in failure }
                    try await Task.sleep(for: .milliseconds(150))
                    #expect(try await Self.statuses(gateway, [unknown]) == [401])
                    #expect(await idp.eventually { $0.requests.count >= 2 + index })
                    #expect(try await Self.statuses(gateway, [token]) == [200])
                }
            }
        }
    }
}
