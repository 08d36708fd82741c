import BFFSpec
import Crypto
import Foundation
import Testing
import _CryptoExtras

@testable import BFFRuntime

/// The JWT verifier on its own: which tokens it admits, and for each refusal the reason it logs.
@Suite("Auth: JWT verifier", .timeLimit(.minutes(1)))
struct JWTVerifierTests {
    static let p256 = P256.Signing.PrivateKey()
    static let ed25519 = Curve25519.Signing.PrivateKey()
    static let rsa = try! _RSA.Signing.PrivateKey(keySize: .bits2048)

    static func location(_ line: Int) -> BFFSpec.SourceLocation { SourceLocation(file: "auth.yaml", line: line) }

    /// A verifier with an HMAC key from the environment and one PEM key per asymmetric family.
    static func verifier(noKidKey: JWTKeySpec? = nil) async throws -> JWTVerifier {
        let rsaFile = TestTokens.file(rsa.publicKey.pemRepresentation)
        var keys = [
            JWTKeySpec(kid: "hs", algorithm: .hs256, material: .secretEnv("AUTH_TEST_SECRET"), location: location(4)),
            JWTKeySpec(kid: "ec", algorithm: .es256, material: .pemFile(TestTokens.file(p256.publicKey.pemRepresentation)), location: location(5)),
            JWTKeySpec(kid: "ed", algorithm: .eddsa, material: .pemFile(TestTokens.file(ed25519.publicKey.pemRepresentation)), location: location(6)),
            JWTKeySpec(kid: "rs", algorithm: .rs256, material: .pemFile(rsaFile), location: location(7)),
            JWTKeySpec(kid: "ps", algorithm: .ps256, material: .pemFile(rsaFile), location: location(8)),
        ]
        if let noKidKey { keys.append(noKidKey) }
        let spec = JWTSpec(issuer: "test-idp", audience: "bff", keys: keys, location: location(2))
        return try await JWTVerifier(spec: spec, jwks: nil, environment: ["AUTH_TEST_SECRET": TestTokens.secret])
    }

    /// The reason `token` is refused, or nil if it is admitted.
    static func failure(_ verifier: JWTVerifier, _ token: String) async -> AuthFailure? {
        do throws(AuthFailure) {
            _ = try await verifier.verify(token)
            return nil
        } catch {
            return error
        }
    }

    static func signed(_ input: String, with key: _RSA.Signing.PrivateKey, padding: _RSA.Signing.Padding) -> String {
        let signature = try! key.signature(for: SHA256.hash(data: Array(input.utf8)), padding: padding)
        return input + "." + TestTokens.base64URL(signature.rawRepresentation)
    }

    // MARK: Admitted

    @Test("HS256, ES256, EdDSA, RS256 and PS256 keys verify tokens naming their kid; claims become the principal")
    func validTokens() async throws {
        let verifier = try await Self.verifier()
        let claims = TestTokens.claims(sub: "u1", ["roles": ["admin", "ops"], "scope": "orders:read orders:write", "tenant": "acme", "level": 3, "beta": true, "nested": ["a": 1]])
        let psInput = TestTokens.signingInput(header: ["alg": "PS256", "kid": "ps"], claims: claims)
        let tokens = [
            "HS256": TestTokens.hs256(claims: claims),
            "ES256": TestTokens.es256(Self.p256, kid: "ec", claims: claims),
            "EdDSA": TestTokens.eddsa(Self.ed25519, kid: "ed", claims: claims),
            "RS256": TestTokens.rs256(Self.rsa, kid: "rs", claims: claims),
            "PS256": Self.signed(psInput, with: Self.rsa, padding: .PSS),
        ]
        for (name, token) in tokens {
            let principal = try await verifier.verify(token)
            #expect(principal.method == .jwt, "\(name)")
            #expect(principal.subject == "u1", "\(name)")
            #expect(principal.roles == ["admin", "ops"], "\(name)")
            #expect(principal.scopes == ["orders:read", "orders:write"], "\(name)")
            #expect(principal.claims["tenant"] == "acme" && principal.claims["level"] == "3" && principal.claims["beta"] == "true", "\(name)")
            #expect(principal.claims["nested"] == nil && principal.claims["roles"] == nil, "\(name)")
        }
    }

    @Test("an aud array containing ours is accepted; exp, nbf and iat within the leeway are accepted")
    func audienceArrayAndLeeway() async throws {
        let verifier = try await Self.verifier()
        let now = TestTokens.now
        for extra: [String: Any] in [["aud": ["other", "bff"]], ["exp": now - 20], ["nbf": now + 20], ["iat": now + 20]] {
            #expect(await Self.failure(verifier, TestTokens.hs256(claims: TestTokens.claims(extra))) == nil, "\(extra)")
        }
    }

    // MARK: Forgeries

    @Test("alg none in any spelling, signed or not, is refused before any key is used")
    func algNone() async throws {
        let verifier = try await Self.verifier(noKidKey: JWTKeySpec(kid: nil, algorithm: .hs256, material: .secretEnv("AUTH_TEST_SECRET"), location: Self.location(9)))
        for spelling in ["none", "None", "NONE", "nOnE"] {
            for header: [String: Any] in [["alg": spelling, "typ": "JWT"], ["alg": spelling, "typ": "JWT", "kid": "hs"]] {
                let input = TestTokens.signingInput(header: header, claims: TestTokens.claims())
                let forged = [
                    input + ".": AuthFailure.algorithmNotAllowed("none"),
                    input + "." + TestTokens.base64URL(Array("signature".utf8)): .algorithmNotAllowed("none"),
                    input: .malformedToken,
                ]
                for (token, reason) in forged {
                    #expect(await Self.failure(verifier, token) == reason, "\(header) \(token.split(separator: ".").count) parts")
                }
            }
        }
    }

    @Test("HS256 signed with the RSA public key's PEM bytes is refused against the RS256-pinned key (key confusion)")
    func keyConfusion() async throws {
        let pem = Array(Self.rsa.publicKey.pemRepresentation.utf8)
        let der = Array(Self.rsa.publicKey.derRepresentation)
        let verifier = try await Self.verifier(noKidKey: JWTKeySpec(kid: nil, algorithm: .rs256, material: .pemFile(TestTokens.file(Self.rsa.publicKey.pemRepresentation)), location: Self.location(9)))
        for secret in [pem, der] {
            let withKid = TestTokens.hs256(header: ["alg": "HS256", "kid": "rs"], claims: TestTokens.claims(), secret: secret)
            let withoutKid = TestTokens.hs256(header: ["alg": "HS256"], claims: TestTokens.claims(), secret: secret)
            #expect(await Self.failure(verifier, withKid) == .algorithmNotAllowed("HS256"))
            #expect(await Self.failure(verifier, withoutKid) == .algorithmNotAllowed("HS256"))
        }
        let switched = TestTokens.hs256(header: ["alg": "HS512", "kid": "hs"], claims: TestTokens.claims())
        #expect(await Self.failure(verifier, switched) == .algorithmNotAllowed("HS512"))
        let psAsRS = Self.signed(TestTokens.signingInput(header: ["alg": "RS256", "kid": "ps"], claims: TestTokens.claims()), with: Self.rsa, padding: .insecurePKCS1v1_5)
        #expect(await Self.failure(verifier, psAsRS) == .algorithmNotAllowed("RS256"))
    }

    @Test("an alg the failure would echo is reduced to a known name or 'unrecognised'")
    func algNotEchoed() async throws {
        let verifier = try await Self.verifier()
        let token = TestTokens.hs256(header: ["alg": "<script>alert(1)</script>", "kid": "hs"], claims: TestTokens.claims())
        #expect(await Self.failure(verifier, token) == .algorithmNotAllowed("unrecognised"))
    }

    @Test("keys are chosen by kid alone: unknown kids and kid-less tokens get no default key")
    func kidOnly() async throws {
        let verifier = try await Self.verifier()
        let unknown = TestTokens.hs256(header: ["alg": "HS256", "kid": "nope"], claims: TestTokens.claims())
        let kidless = TestTokens.hs256(header: ["alg": "HS256"], claims: TestTokens.claims())
        let nullKid = TestTokens.hs256(header: ["alg": "HS256", "kid": NSNull()], claims: TestTokens.claims())
        let numericKid = TestTokens.hs256(header: ["alg": "HS256", "kid": 1], claims: TestTokens.claims())
        #expect(await Self.failure(verifier, unknown) == .unknownKeyID)
        #expect(await Self.failure(verifier, kidless) == .unknownKeyID)
        #expect(await Self.failure(verifier, nullKid) == .unknownKeyID)
        #expect(await Self.failure(verifier, numericKid) == .malformedToken)

        let withDefault = try await Self.verifier(noKidKey: JWTKeySpec(kid: nil, algorithm: .es256, material: .pemFile(TestTokens.file(Self.p256.publicKey.pemRepresentation)), location: Self.location(9)))
        let input = TestTokens.signingInput(header: ["alg": "ES256"], claims: TestTokens.claims())
        let kidlessES = input + "." + TestTokens.base64URL(try Self.p256.signature(for: Array(input.utf8)).rawRepresentation)
        #expect(await Self.failure(withDefault, kidlessES) == nil)
        #expect(await Self.failure(withDefault, unknown) == .unknownKeyID)
    }

    @Test("keys supplied in the header (jwk, jku, x5u, x5c) are never used")
    func headerKeysIgnored() async throws {
        let verifier = try await Self.verifier()
        let attacker = Array(TestTokens.otherSecret.utf8)
        let attackerEC = P256.Signing.PrivateKey()
        let headerKeys: [String: Any] = [
            "jwk": ["kty": "oct", "k": TestTokens.base64URL(attacker)],
            "jku": "http://127.0.0.1:1/jwks.json",
            "x5u": "http://127.0.0.1:1/cert.pem",
            "x5c": [Data(attackerEC.publicKey.derRepresentation).base64EncodedString()],
        ]
        for (name, value) in headerKeys {
            let ownKid = TestTokens.hs256(header: ["alg": "HS256", "kid": "hs", name: value], claims: TestTokens.claims(), secret: attacker)
            let attackerKid = TestTokens.hs256(header: ["alg": "HS256", "kid": "attacker", name: value], claims: TestTokens.claims(), secret: attacker)
            #expect(await Self.failure(verifier, ownKid) == .badSignature, "\(name)")
            #expect(await Self.failure(verifier, attackerKid) == .unknownKeyID, "\(name)")
        }
        let ecInput = TestTokens.signingInput(header: ["alg": "ES256", "kid": "ec", "jwk": TestTokens.jwk(attackerEC, kid: "ec")], claims: TestTokens.claims())
        let ecToken = ecInput + "." + TestTokens.base64URL(try attackerEC.signature(for: Array(ecInput.utf8)).rawRepresentation)
        #expect(await Self.failure(verifier, ecToken) == .badSignature)
    }

    @Test("a token naming critical header extensions is refused")
    func criticalExtensions() async throws {
        let verifier = try await Self.verifier()
        let token = TestTokens.hs256(header: ["alg": "HS256", "kid": "hs", "crit": ["exp"], "exp": 1], claims: TestTokens.claims())
        #expect(await Self.failure(verifier, token) == .malformedToken)
    }

    // MARK: Claims

    @Test("expired, not yet valid, issued in the future, wrong issuer, wrong audience, no exp: each refused with its reason")
    func registeredClaims() async throws {
        let verifier = try await Self.verifier()
        let now = TestTokens.now
        let cases: [(String, [String: Any], AuthFailure)] = [
            ("expired", TestTokens.claims(["exp": now - 60]), .expired),
            ("future nbf", TestTokens.claims(["nbf": now + 60]), .notYetValid),
            ("future iat", TestTokens.claims(["iat": now + 60]), .issuedInTheFuture),
            ("wrong iss", TestTokens.claims(["iss": "evil-idp"]), .wrongIssuer),
            ("no iss", TestTokens.claims().filter { $0.key != "iss" }, .wrongIssuer),
            ("wrong aud", TestTokens.claims(["aud": "other"]), .wrongAudience),
            ("aud array without ours", TestTokens.claims(["aud": ["a", "b"]]), .wrongAudience),
            ("no exp", TestTokens.claims().filter { $0.key != "exp" }, .missingClaim("exp")),
            ("no sub", TestTokens.claims().filter { $0.key != "sub" }, .missingClaim("sub")),
        ]
        for (name, claims, reason) in cases {
            #expect(await Self.failure(verifier, TestTokens.hs256(claims: claims)) == reason, "\(name)")
        }
    }

    @Test("exp, nbf and iat must be NumericDates: infinity (1e309), beyond year 9999, negative or text is refused")
    func numericDates() async throws {
        let verifier = try await Self.verifier()
        for (name, payload) in TestTokens.undatedPayloads {
            let claim = String(name.prefix(3))
            #expect(await Self.failure(verifier, TestTokens.hs256(payload: payload)) == .invalidDate(claim), "\(name)")
        }
        let edge = #"{"sub":"u1","iss":"test-idp","aud":"bff","exp":253402300799,"iat":0}"#
        #expect(await Self.failure(verifier, TestTokens.hs256(payload: edge)) == nil, "the last second of 9999 and the epoch are dates")
    }

    @Test("a tampered payload or a signature by another secret is a bad signature")
    func badSignatures() async throws {
        let verifier = try await Self.verifier()
        let parts = TestTokens.hs256(claims: TestTokens.claims()).split(separator: ".").map(String.init)
        let tampered = [parts[0], TestTokens.base64URL(TestTokens.json(TestTokens.claims(["roles": ["admin"]]))), parts[2]].joined(separator: ".")
        #expect(await Self.failure(verifier, tampered) == .badSignature)
        #expect(await Self.failure(verifier, TestTokens.hs256(claims: TestTokens.claims(), secret: Array(TestTokens.otherSecret.utf8))) == .badSignature)
        #expect(await Self.failure(verifier, TestTokens.es256(P256.Signing.PrivateKey(), kid: "ec", claims: TestTokens.claims())) == .badSignature)
    }

    // MARK: Start-up

    @Test("a missing secret, an unreadable or wrong PEM, or a short secret stops start-up naming the key's spec line")
    func startUpErrors() async throws {
        let cases: [(JWTKeySpec, String)] = [
            (JWTKeySpec(kid: "a", algorithm: .hs256, material: .secretEnv("AUTH_TEST_UNSET"), location: Self.location(11)), "AUTH_TEST_UNSET"),
            (JWTKeySpec(kid: "b", algorithm: .hs256, material: .secretFile("/nonexistent/secret"), location: Self.location(12)), "/nonexistent/secret"),
            (JWTKeySpec(kid: "c", algorithm: .rs256, material: .pemFile("/nonexistent/key.pem"), location: Self.location(13)), "/nonexistent/key.pem"),
            (JWTKeySpec(kid: "d", algorithm: .rs256, material: .pemFile(TestTokens.file(Self.p256.publicKey.pemRepresentation)), location: Self.location(14)), "RS256"),
            (JWTKeySpec(kid: "e", algorithm: .hs512, material: .secretFile(TestTokens.file(TestTokens.secret + "\n")), location: Self.location(15)), "64 bytes"),
        ]
        for (key, mention) in cases {
            let spec = JWTSpec(keys: [key], location: Self.location(2))
            do throws(SpecLoadError) {
                _ = try await JWTVerifier(spec: spec, jwks: nil, environment: [:])
                Issue.record("\(mention): start-up succeeded")
            } catch {
                let diagnostic = try #require(error.diagnostics.first)
                #expect(diagnostic.location == key.location)
                #expect((diagnostic.message + " " + (diagnostic.hint ?? "")).contains(mention), "\(diagnostic)")
                #expect(diagnostic.hint != nil)
            }
        }
    }
}
