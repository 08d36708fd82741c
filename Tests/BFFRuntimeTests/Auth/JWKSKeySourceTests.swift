import BFFSpec
import Crypto
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Testing
import _CryptoExtras

@testable import BFFRuntime

/// The JWKS key source against a real local identity provider that counts its hits.
@Suite("Auth: JWKS key source", .timeLimit(.minutes(1)))
struct JWKSKeySourceTests {
    static func source(
        _ url: String,
        refresh: Duration = .seconds(300),
        minInterval: Duration = .seconds(30),
        timeout: Duration = .seconds(1),
        maxBytes: Int = 64 * 1024
    ) throws -> JWKSKeySource {
        let spec = JWKSSpec(
            url: try #require(UpstreamURL(url + "/jwks.json")),
            refresh: refresh,
            minInterval: minInterval,
            timeout: timeout,
            maxBytes: maxBytes,
            location: SourceLocation(file: "auth.yaml", line: 5)
        )
        return try JWKSKeySource(spec: spec, group: MultiThreadedEventLoopGroup.singleton, logger: quietLogger)
    }

    static func verifier(_ source: JWKSKeySource) async throws -> JWTVerifier {
        try await JWTVerifier(spec: JWTSpec(jwks: source.spec, location: SourceLocation(file: "auth.yaml", line: 3)), jwks: source)
    }

    static func failures(_ verifier: JWTVerifier, _ tokens: [String]) async -> [AuthFailure?] {
        await withTaskGroup(of: AuthFailure?.self) { group in
            for token in tokens {
                group.addTask {
                    do throws(AuthFailure) {
                        _ = try await verifier.verify(token)
                        return nil
                    } catch {
                        return error
                    }
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
    }

    @Test("200 concurrent tokens with random unknown kids make exactly one fetch, then none until min_interval")
    func unknownKidFlood() async throws {
        let key = P256.Signing.PrivateKey()
        try await withStubs { stubs in
            let idp = stubs[0]
            idp.on("/jwks.json", body: TestTokens.jwks([TestTokens.jwk(key, kid: "k1")]))
            let source = try Self.source(idp.url)
            let verifier = try await Self.verifier(source)
            for _ in 0..<2 {
                let forged = (0..<200).map { _ in TestTokens.es256(key, kid: UUID().uuidString, claims: TestTokens.claims()) }
                let failures = await Self.failures(verifier, forged)
                #expect(failures.count == 200 && failures.allSatisfy { $0 == .unknownKeyID })
                #expect(idp.requests.count == 1)
                #expect(source.fetchCount == 1)
            }
            let good = await Self.failures(verifier, [TestTokens.es256(key, kid: "k1", claims: TestTokens.claims())])
            #expect(good == [nil], "the key the flood's fetch brought in verifies")
            await source.shutdown()
        }
    }

    @Test("a key rotated in at the IdP is picked up by an unknown-kid fetch once min_interval has passed")
    func rotation() async throws {
        let old = P256.Signing.PrivateKey()
        let new = P256.Signing.PrivateKey()
        try await withStubs { stubs in
            let idp = stubs[0]
            idp.on("/jwks.json", body: TestTokens.jwks([TestTokens.jwk(old, kid: "old")]))
            // Long enough that a loaded CI machine (seen: more than 3 s between two awaits) still
            // makes the "early" check inside it.
            let source = try Self.source(idp.url, minInterval: .seconds(10))
            let verifier = try await Self.verifier(source)
            #expect(await Self.failures(verifier, [TestTokens.es256(old, kid: "old", claims: TestTokens.claims())]) == [nil])
            idp.on("/jwks.json", body: TestTokens.jwks([TestTokens.jwk(new, kid: "new")]))
            let early = await Self.failures(verifier, [TestTokens.es256(new, kid: "new", claims: TestTokens.claims())])
            #expect(early == [.unknownKeyID], "within min_interval the IdP is not asked again")
            try await Task.sleep(for: .milliseconds(10_100))
            let tokens = (0..<50).map { _ in TestTokens.es256(new, kid: "new", claims: TestTokens.claims()) }
            #expect(await Self.failures(verifier, tokens).allSatisfy { $0 == nil })
            #expect(await Self.failures(verifier, [TestTokens.es256(old, kid: "old", claims: TestTokens.claims())]) == [.unknownKeyID], "a key dropped by the IdP is dropped here")
            #expect(idp.requests.count == 2)
            await source.shutdown()
        }
    }

    @Test("the background refresh follows Cache-Control max-age, shorter or longer than the configured refresh")
    func cacheControl() async throws {
        let key = P256.Signing.PrivateKey()
        let body = TestTokens.jwks([TestTokens.jwk(key, kid: "k1")])
        try await withStubs(2) { stubs in
            let (short, long) = (stubs[0], stubs[1])
            short.on("/jwks.json") { _ in StubResponse(.ok, body, headers: [("Cache-Control", "public, max-age=3")]) }
            long.on("/jwks.json") { _ in StubResponse(.ok, body, headers: [("Cache-Control", "max-age=3600")]) }
            let shortSource = try Self.source(short.url, refresh: .seconds(300), minInterval: .milliseconds(100))
            let longSource = try Self.source(long.url, refresh: .milliseconds(200), minInterval: .milliseconds(100))
            try await whileRunning(shortSource) {
                try await whileRunning(longSource) {
                    #expect(await short.eventually { $0.requests.count == 1 })
                    try await Task.sleep(for: .milliseconds(500))
                    #expect(short.requests.count == 1, "max-age=3 has not yet run out")
                    #expect(await long.eventually { $0.requests.count == 1 })
                    #expect(await short.eventually(within: .seconds(8)) { $0.requests.count == 2 }, "max-age=3 overrides refresh 300s")
                    #expect(long.requests.count == 1, "max-age=3600 overrides refresh 200ms")
                }
            }
        }
    }

    @Test("while the IdP answers 500, garbage, no usable key, an oversized set, or is down, the last good keys stay")
    func lastGoodKeysKept() async throws {
        let key = P256.Signing.PrivateKey()
        let idp = try await StubUpstream.start()
        idp.on("/jwks.json", body: TestTokens.jwks([TestTokens.jwk(key, kid: "k1")]))
        let source = try Self.source(idp.url, minInterval: .milliseconds(50), maxBytes: 4096)
        let verifier = try await Self.verifier(source)
        let good = TestTokens.es256(key, kid: "k1", claims: TestTokens.claims())
        #expect(await Self.failures(verifier, [good]) == [nil])
        let oversized = TestTokens.jwks([TestTokens.jwk(key, kid: "k1"), TestTokens.jwk(key, kid: "k2")] + (0..<40).map { TestTokens.jwk(P256.Signing.PrivateKey(), kid: "pad\($0)") })
        #expect(oversized.utf8.count > 4096)
        let failures = [
            StubResponse(.internalServerError, "down"),
            StubResponse(.ok, "{not json"),
            StubResponse(.ok, TestTokens.jwks([["kty": "oct", "kid": "k2", "alg": "HS256", "k": TestTokens.base64URL(Array(TestTokens.secret.utf8))]])),
            StubResponse(.ok, oversized),
        ]
        for (index, failure) in failures.enumerated() {
            idp.on("/jwks.json") { _ in failure }
            try await Task.sleep(for: .milliseconds(60))
            #expect(await Self.failures(verifier, [TestTokens.es256(key, kid: "k2", claims: TestTokens.claims())]) == [.unknownKeyID], "\(index)")
            #expect(idp.requests.count == 2 + index, "\(index)")
            #expect(await Self.failures(verifier, [good]) == [nil], "\(index)")
        }
        try await idp.shutdown()
        try await Task.sleep(for: .milliseconds(60))
        #expect(await Self.failures(verifier, [TestTokens.es256(key, kid: "k2", claims: TestTokens.claims())]) == [.unknownKeyID])
        #expect(source.fetchCount == 6)
        #expect(await Self.failures(verifier, [good]) == [nil])
        await source.shutdown()
    }

    @Test("an IdP dripping its body holds concurrent unknown-kid requests no longer than the fetch timeout")
    func slowBodyBounded() async throws {
        let server = try await DrippingServer.start(interval: .milliseconds(100))
        let source = try Self.source(server.url, timeout: .milliseconds(500))
        let verifier = try await Self.verifier(source)
        let clock = ContinuousClock()
        let start = clock.now
        let forged = (0..<20).map { _ in TestTokens.es256(P256.Signing.PrivateKey(), kid: UUID().uuidString, claims: TestTokens.claims()) }
        let failures = await Self.failures(verifier, forged)
        let elapsed = clock.now - start
        #expect(failures.allSatisfy { $0 == .unknownKeyID })
        #expect(server.hits == 1)
        // The drip would take 6,000 s; a bounded fetch ends soon after its 500 ms.
        #expect(elapsed < .seconds(5), "waited \(elapsed)")
        await source.shutdown()
        try await server.shutdown()
    }

    @Test("only JWKs with a kid and an asymmetric alg that fits their key material are used")
    func usableKeys() async throws {
        let ec = P256.Signing.PrivateKey()
        let ed = Curve25519.Signing.PrivateKey()
        let rsa = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        let primitives = try rsa.publicKey.getKeyPrimitives()
        let rsaJWK: [String: Any] = ["kty": "RSA", "n": TestTokens.base64URL(primitives.modulus), "e": TestTokens.base64URL(primitives.publicExponent)]
        func with(_ jwk: [String: Any], _ extra: [String: Any]) -> [String: Any] { jwk.merging(extra) { $1 } }
        let set = TestTokens.jwks([
            TestTokens.jwk(ec, kid: "ec"),
            with(rsaJWK, ["kid": "rs", "alg": "RS256"]),
            ["kty": "OKP", "crv": "Ed25519", "x": TestTokens.base64URL(ed.publicKey.rawRepresentation), "kid": "ed", "alg": "EdDSA"],
            TestTokens.jwk(ec, kid: "no-alg").filter { $0.key != "alg" },
            TestTokens.jwk(ec, kid: "x").filter { $0.key != "kid" },
            ["kty": "oct", "kid": "hs", "alg": "HS256", "k": TestTokens.base64URL(Array(TestTokens.secret.utf8))],
            with(rsaJWK, ["kid": "rsa-as-ec", "alg": "ES256"]),
            with(TestTokens.jwk(ec, kid: "ec-as-rs"), ["alg": "RS256"]),
            with(TestTokens.jwk(ec, kid: "none"), ["alg": "none"]),
        ])
        let keys = try await JWKSKeySource.parse(Array(set.utf8))
        #expect(Set(keys.keys) == ["ec", "rs", "ed"])
        #expect(keys["rs"]?.algorithm == .rs256 && keys["ec"]?.algorithm == .es256 && keys["ed"]?.algorithm == .eddsa)
    }

    @Test("Cache-Control max-age is read among other directives; anything else has none")
    func maxAgeParsing() {
        #expect(JWKSKeySource.maxAge("public, max-age=120, must-revalidate") == .seconds(120))
        #expect(JWKSKeySource.maxAge("MAX-AGE=5") == .seconds(5))
        #expect(JWKSKeySource.maxAge("no-cache") == nil)
        #expect(JWKSKeySource.maxAge("max-age=-1") == nil)
        #expect(JWKSKeySource.maxAge(nil) == nil)
    }
}
