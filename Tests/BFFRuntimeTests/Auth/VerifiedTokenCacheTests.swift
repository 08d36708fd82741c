import BFFSpec
import NIOCore
import Testing

@testable import BFFRuntime

/// The verified-token cache on its own: what a hit returns, when an entry stops counting, and its
/// bounds; then through the verifier, that a cached token still expires at its `exp`.
@Suite("Auth: verified-token cache", .timeLimit(.minutes(1)))
struct VerifiedTokenCacheTests {
    static let caller = Principal(method: .jwt, subject: "u1", roles: ["admin"], claims: ["tenant": "acme"])

    @Test("a stored token gives back its caller until its exp (with leeway) or the cache's max age, whichever is first")
    func lifetime() {
        let cache = VerifiedTokenCache(limits: .init(maxAge: .seconds(60)))
        let now = NIODeadline.uptimeNanoseconds(1_000_000_000_000)
        cache.store(Self.caller, for: "short", expiresIn: .seconds(10), now: now)
        cache.store(Self.caller, for: "long", expiresIn: .seconds(3600), now: now)
        #expect(cache.principal(for: "short", now: now + .seconds(9)) == Self.caller)
        #expect(cache.principal(for: "short", now: now + .seconds(10)) == nil)
        #expect(cache.principal(for: "long", now: now + .seconds(59)) == Self.caller)
        #expect(cache.principal(for: "long", now: now + .seconds(61)) == nil, "max age caps a long-lived token")
        #expect(cache.principal(for: "other", now: now) == nil)
        cache.store(Self.caller, for: "expired", expiresIn: .zero, now: now)
        #expect(cache.principal(for: "expired", now: now) == nil, "a token already past its exp is not kept")

        // Verified again after it lapsed, the same token counts again, from then.
        cache.store(Self.caller, for: "short", expiresIn: .seconds(10), now: now + .seconds(20))
        #expect(cache.principal(for: "short", now: now + .seconds(25)) == Self.caller)
        #expect(cache.count == 2)
    }

    @Test("entries and token bytes are bounded; the oldest go first")
    func bounds() {
        let byCount = VerifiedTokenCache(limits: .init(entries: 3, tokenBytes: 1 << 20))
        for index in 0..<5 { byCount.store(Self.caller, for: "token-\(index)", expiresIn: .seconds(60)) }
        #expect(byCount.count == 3)
        #expect(byCount.principal(for: "token-0") == nil && byCount.principal(for: "token-1") == nil)
        #expect(byCount.principal(for: "token-4") == Self.caller)

        let byBytes = VerifiedTokenCache(limits: .init(entries: 100, tokenBytes: 2500))
        for index in 0..<5 { byBytes.store(Self.caller, for: String(repeating: "\(index)", count: 1000), expiresIn: .seconds(60)) }
        #expect(byBytes.count == 2)
        byBytes.store(Self.caller, for: String(repeating: "x", count: 3000), expiresIn: .seconds(60))
        #expect(byBytes.count == 2, "a token larger than the whole budget is not kept")
    }

    @Test("through the verifier: a token is checked once, kept, and refused once its exp passes though it is kept")
    func verifierKeepsAndExpires() async throws {
        let spec = JWTSpec(
            issuer: "test-idp", audience: "bff", leeway: .zero,
            keys: [JWTKeySpec(kid: "hs", algorithm: .hs256, material: .secretEnv("AUTH_TEST_SECRET"), location: SourceLocation(file: "t.yaml", line: 3))],
            location: SourceLocation(file: "t.yaml", line: 2)
        )
        let verifier = try await JWTVerifier(spec: spec, jwks: nil, environment: ["AUTH_TEST_SECRET": TestTokens.secret])
        let token = TestTokens.hs256(claims: TestTokens.claims(["exp": TestTokens.now + 2]))
        #expect(try await verifier.verify(token).subject == "u1")
        #expect(verifier.verified.count == 1)
        #expect(try await verifier.verify(token).subject == "u1")
        try await Task.sleep(for: .seconds(3))
        await #expect(throws: AuthFailure.expired) { try await verifier.verify(token) }
        // A refused token is never kept; one that differs by a byte is checked in full.
        let fresh = TestTokens.hs256(claims: TestTokens.claims())
        let signature = fresh.lastIndex(of: ".").map { fresh.index(after: $0) }!
        let tampered = String(fresh[..<signature]) + (fresh[signature] == "A" ? "B" : "A") + String(fresh[fresh.index(after: signature)...])
        #expect(try await verifier.verify(fresh).subject == "u1")
        await #expect(throws: AuthFailure.badSignature) { try await verifier.verify(tampered) }
    }
}
