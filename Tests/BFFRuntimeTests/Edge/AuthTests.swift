import BFFRuntime
import BFFSpec
import Crypto
import Foundation
import NIOHTTP1
import Testing
import _CryptoExtras

/// JWT auth over real sockets: valid tokens in, every forgery out, claims flowing to upstreams.
@Suite("Edge: JWT auth", .timeLimit(.minutes(1)))
struct AuthTests {
    static let p256 = P256.Signing.PrivateKey()
    static let ed25519 = Curve25519.Signing.PrivateKey()
    static let rsa = try! _RSA.Signing.PrivateKey(keySize: .bits2048)

    static func yaml(_ stub: StubUpstream, extraKeys: String = "", endpoints: String? = nil) -> String {
        let secretFile = TestTokens.file(TestTokens.secret)
        let ecFile = TestTokens.file(p256.publicKey.pemRepresentation)
        let edFile = TestTokens.file(ed25519.publicKey.pemRepresentation)
        let rsaFile = TestTokens.file(rsa.publicKey.pemRepresentation)
        return """
            name: auth-test
            services:
              svc: { url: "\(stub.url)" }
            auth:
              jwt:
                issuer: test-idp
                audience: bff
                keys:
                  - { kid: hs, alg: HS256, secret_file: "\(secretFile)" }
                  - { kid: ec, alg: ES256, pem_file: "\(ecFile)" }
                  - { kid: ed, alg: EdDSA, pem_file: "\(edFile)" }
                  - { kid: rs, alg: RS256, pem_file: "\(rsaFile)" }\(extraKeys)
              forward_claims: { sub: X-User-Id, tenant: X-Tenant }
            endpoints:
            \(endpoints ?? Self.endpoints)
            """
    }

    static let endpoints = """
          - route: GET /me
            auth: jwt
            calls:
              me: { service: svc, path: "/users/{auth.sub}" }
          - route: GET /admin
            auth: jwt
            require: { roles: [admin] }
            proxy: { service: svc, path: /admin }
          - route: GET /orders
            auth: jwt
            require: { scopes: [orders:read] }
            proxy: { service: svc, path: /orders }
          - route: GET /public
            auth: none
            proxy: { service: svc, path: /public }
        """

    func bearer(_ token: String) -> [(String, String)] { [("Authorization", "Bearer \(token)")] }

    @Test("a valid token is admitted; {auth.sub} and forward_claims reach the upstream, replacing what the client sent")
    func validToken() async throws {
        try await withStubs { stubs in
            let stub = stubs[0]
            stub.on("/users/*", body: #"{"id":"u1"}"#)
            try await withGateway(Self.yaml(stub)) { gateway in
                let token = TestTokens.hs256(claims: TestTokens.claims(sub: "u 1/..", ["tenant": "acme"]))
                let response = try await gateway.get("/me", headers: bearer(token) + [("X-User-Id", "admin"), ("X-Tenant", "evil")])
                #expect(response.status == 200)
                let request = try #require(stub.requests.first)
                #expect(request.uri == "/users/u%201%2F..")
                #expect(request.headers["x-user-id"] == ["u 1/.."])
                #expect(request.headers["x-tenant"] == ["acme"])
            }
        }
    }

    @Test("without a token: 401 problem+json with WWW-Authenticate, and no upstream call; public routes need none")
    func missingToken() async throws {
        try await withStubs { stubs in
            let stub = stubs[0]
            stub.on("/public", body: "{}")
            try await withGateway(Self.yaml(stub)) { gateway in
                let response = try await gateway.get("/me", headers: [("X-User-Id", "u1")])
                #expect(response.status == 401)
                #expect(response.header("Content-Type") == "application/problem+json")
                #expect(response.header("WWW-Authenticate")?.hasPrefix("Bearer") == true)
                #expect(try response.json()["request_id"] != nil)
                let basic = try await gateway.get("/me", headers: [("Authorization", "Basic dTE6cA==")])
                #expect(basic.status == 401)
                #expect(stub.requests.isEmpty)
                let open = try await gateway.get("/public")
                #expect(open.status == 200)
                #expect(stub.requests.first?.headers["x-user-id"] == [])
            }
        }
    }

    @Test("forged and invalid tokens are all 401, and the answer never echoes the token or library errors")
    func forgeries() async throws {
        try await withStubs { stubs in
            let stub = stubs[0]
            try await withGateway(Self.yaml(stub)) { gateway in
                let claims = TestTokens.claims()
                let unsignedInput = { (alg: String) in TestTokens.signingInput(header: ["alg": alg, "typ": "JWT", "kid": "hs"], claims: claims) }
                let rsaPublicPEM = Array(Self.rsa.publicKey.pemRepresentation.utf8)
                var forged: [(String, String)] = [
                    ("alg none", unsignedInput("none") + "."),
                    ("alg None", unsignedInput("None") + "."),
                    ("alg NONE with a signature", unsignedInput("NONE") + ".c2lnbmF0dXJl"),
                    ("expired", TestTokens.hs256(claims: TestTokens.claims(["exp": TestTokens.now - 120]))),
                    ("nbf in the future", TestTokens.hs256(claims: TestTokens.claims(["nbf": TestTokens.now + 120]))),
                    ("iat in the future", TestTokens.hs256(claims: TestTokens.claims(["iat": TestTokens.now + 120]))),
                    ("no exp", TestTokens.hs256(claims: ["sub": "u1", "iss": "test-idp", "aud": "bff"])),
                ] + TestTokens.undatedPayloads.map { ($0.0, TestTokens.hs256(payload: $0.1)) } + [
                    ("wrong issuer", TestTokens.hs256(claims: TestTokens.claims(["iss": "evil-idp"]))),
                    ("wrong audience", TestTokens.hs256(claims: TestTokens.claims(["aud": "other-app"]))),
                    ("audience array without ours", TestTokens.hs256(claims: TestTokens.claims(["aud": ["a", "b"]]))),
                    ("wrong secret", TestTokens.hs256(claims: claims, secret: Array(TestTokens.otherSecret.utf8))),
                    ("unknown kid", TestTokens.hs256(header: ["alg": "HS256", "kid": "nope"], claims: claims)),
                    ("no kid", TestTokens.hs256(header: ["alg": "HS256"], claims: claims)),
                    (
                        "HS256 signed with the RSA public key (key confusion)",
                        TestTokens.hs256(header: ["alg": "HS256", "kid": "rs"], claims: claims, secret: rsaPublicPEM)
                    ),
                    ("alg switched on a pinned key", TestTokens.hs256(header: ["alg": "HS512", "kid": "hs"], claims: claims)),
                    (
                        "attacker key in jwk header",
                        TestTokens.hs256(
                            header: ["alg": "HS256", "kid": "evil", "jwk": ["kty": "oct", "k": TestTokens.base64URL(Array(TestTokens.otherSecret.utf8))]],
                            claims: claims, secret: Array(TestTokens.otherSecret.utf8))
                    ),
                    (
                        "attacker key set in jku / x5u",
                        TestTokens.hs256(header: ["alg": "HS256", "kid": "evil", "jku": "http://127.0.0.1:1/jwks", "x5u": "http://127.0.0.1:1/x5"], claims: claims, secret: Array(TestTokens.otherSecret.utf8))
                    ),
                    ("tampered payload", {
                        let parts = TestTokens.hs256(claims: claims).split(separator: ".")
                        return [String(parts[0]), TestTokens.base64URL(TestTokens.json(TestTokens.claims(["roles": ["admin"]]))), String(parts[2])].joined(separator: ".")
                    }()),
                    ("garbage", "not.a.token"),
                    ("two parts", "eyJhbGciOiJIUzI1NiJ9.e30"),
                ]
                forged.append(("ES256 token claiming RS key id", TestTokens.es256(Self.p256, kid: "rs", claims: claims)))
                for (name, token) in forged {
                    let response = try await gateway.get("/me", headers: bearer(token))
                    #expect(response.status == 401, "\(name)")
                    #expect(!response.text.contains(token.prefix(20)), "\(name)")
                    #expect(!response.text.lowercased().contains("jwtkit"), "\(name)")
                }
                #expect(stub.requests.isEmpty)
            }
        }
    }

    @Test("ES256, EdDSA and RS256 keys from PEM files verify; an audience array containing ours is accepted")
    func asymmetricKeys() async throws {
        try await withStubs { stubs in
            let stub = stubs[0]
            stub.on("/users/*", body: "{}")
            try await withGateway(Self.yaml(stub)) { gateway in
                let claims = TestTokens.claims(["aud": ["other", "bff"]])
                for token in [
                    TestTokens.es256(Self.p256, kid: "ec", claims: claims),
                    TestTokens.eddsa(Self.ed25519, kid: "ed", claims: claims),
                    TestTokens.rs256(Self.rsa, kid: "rs", claims: claims),
                ] {
                    let status1 = try await gateway.get("/me", headers: bearer(token)).status
                    #expect(status1 == 200)
                }
                let wrongCurveKey = TestTokens.es256(P256.Signing.PrivateKey(), kid: "ec", claims: claims)
                let status2 = try await gateway.get("/me", headers: bearer(wrongCurveKey)).status
                #expect(status2 == 401)
            }
        }
    }

    @Test("roles and scopes: 403 when authenticated but not allowed, 401 when not authenticated")
    func rolesAndScopes() async throws {
        try await withStubs { stubs in
            let stub = stubs[0]
            stub.on("/admin", body: "{}")
            stub.on("/orders", body: "{}")
            try await withGateway(Self.yaml(stub)) { gateway in
                let customer = TestTokens.hs256(claims: TestTokens.claims(["roles": ["customer"], "scope": "profile"]))
                let admin = TestTokens.hs256(claims: TestTokens.claims(["roles": "admin", "scope": "orders:read profile"]))
                let forbidden = try await gateway.get("/admin", headers: bearer(customer))
                #expect(forbidden.status == 403)
                #expect(forbidden.header("Content-Type") == "application/problem+json")
                #expect(!forbidden.text.contains(customer.prefix(20)))
                let status3 = try await gateway.get("/admin").status
                #expect(status3 == 401)
                let status4 = try await gateway.get("/admin", headers: bearer(admin)).status
                #expect(status4 == 200)
                let status5 = try await gateway.get("/orders", headers: bearer(customer)).status
                #expect(status5 == 403)
                let status6 = try await gateway.get("/orders", headers: bearer(admin)).status
                #expect(status6 == 200)
            }
        }
    }

    @Test("credentials in the query string are refused with 400")
    func queryCredentials() async throws {
        try await withStubs { stubs in
            let stub = stubs[0]
            try await withGateway(Self.yaml(stub)) { gateway in
                let token = TestTokens.hs256(claims: TestTokens.claims())
                let status7 = try await gateway.get("/me?access_token=\(token)").status
                #expect(status7 == 400)
                let status8 = try await gateway.get("/me?api_key=k", headers: bearer(token)).status
                #expect(status8 == 400)
                #expect(stub.requests.isEmpty)
            }
        }
    }

    @Test("a missing secret or unreadable key stops start-up with the key's spec line")
    func startUpErrors() async throws {
        try await withStubs { stubs in
            let yaml = """
                name: broken
                services:
                  svc: { url: "\(stubs[0].url)" }
                auth:
                  jwt:
                    keys:
                      - { kid: a, alg: HS256, secret_env: BFF_TEST_SECRET_THAT_IS_NOT_SET }
                      - { kid: b, alg: ES256, pem_file: /nonexistent/key.pem }
                      - { kid: c, alg: HS256, secret_file: "\(TestTokens.file("short"))" }
                endpoints: []
                """
            let spec = try SpecLoader.load(yaml: yaml, file: "broken.yaml")
            let error = try await #require(throws: SpecLoadError.self) {
                try await BFFServer(spec: spec, options: ServerOptions(listen: HostPort(host: "127.0.0.1", port: 0), threads: 1, accessLog: nil))
            }
            #expect(error.diagnostics.map(\.location.line) == [7, 8, 9])
            #expect(error.description.contains("BFF_TEST_SECRET_THAT_IS_NOT_SET is not set"))
            #expect(error.description.contains("cannot be read"))
            #expect(error.description.contains("at least 32 bytes"))
        }
    }
}
