import Crypto
import Foundation
import _CryptoExtras

/// Hand-made JWTs for the auth tests: any header, any claims, signed (or not) any way, so forged
/// tokens can be built byte for byte.
enum TestTokens {
    static let secret = "test-secret-0123456789-abcdefghijklmnop"
    static let otherSecret = "attacker-secret-0123456789-abcdefghijk"

    static func base64URL(_ bytes: some Sequence<UInt8>) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    static func json(_ object: [String: Any]) -> [UInt8] {
        Array(try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]))
    }

    static var now: Int { Int(Date().timeIntervalSince1970) }

    /// Claims of a valid token for `sub`, valid for an hour.
    static func claims(sub: String = "u1", _ extra: [String: Any] = [:]) -> [String: Any] {
        var claims: [String: Any] = ["sub": sub, "exp": now + 3600, "iat": now - 5, "iss": "test-idp", "aud": "bff"]
        for (key, value) in extra { claims[key] = value }
        return claims
    }

    static func signingInput(header: [String: Any], claims: [String: Any]) -> String {
        base64URL(json(header)) + "." + base64URL(json(claims))
    }

    static func hs256(header: [String: Any] = ["alg": "HS256", "typ": "JWT", "kid": "hs"], claims: [String: Any], secret: some DataProtocol = Array(TestTokens.secret.utf8)) -> String {
        let input = signingInput(header: header, claims: claims)
        let mac = HMAC<SHA256>.authenticationCode(for: Array(input.utf8), using: SymmetricKey(data: Array(secret)))
        return input + "." + base64URL(Array(mac))
    }

    /// An HS256 token whose payload is `payload` byte for byte, for JSON that JSONSerialization will
    /// not write (`1e309`, duplicate names).
    static func hs256(payload: String) -> String {
        let input = base64URL(json(["alg": "HS256", "typ": "JWT", "kid": "hs"])) + "." + base64URL(Array(payload.utf8))
        let mac = HMAC<SHA256>.authenticationCode(for: Array(input.utf8), using: SymmetricKey(data: Array(secret.utf8)))
        return input + "." + base64URL(Array(mac))
    }

    /// Payloads with a valid signature whose `exp`, `nbf` or `iat` is not a NumericDate, by name.
    static var undatedPayloads: [(String, String)] {
        let valid = #""sub":"u1","iss":"test-idp","aud":"bff""#
        return [
            ("exp 1e309 (infinity)", #"{\#(valid),"exp":1e309}"#),
            ("exp beyond year 9999", #"{\#(valid),"exp":1e300}"#),
            ("exp negative", #"{\#(valid),"exp":-1}"#),
            ("exp as text", #"{\#(valid),"exp":"\#(now + 60)"}"#),
            ("nbf -1e309", #"{\#(valid),"exp":\#(now + 60),"nbf":-1e309}"#),
            ("iat -1e309", #"{\#(valid),"exp":\#(now + 60),"iat":-1e309}"#),
            ("iat before 1970", #"{\#(valid),"exp":\#(now + 60),"iat":-253402300800}"#),
        ]
    }

    static func es256(_ key: P256.Signing.PrivateKey, kid: String, claims: [String: Any]) -> String {
        let input = signingInput(header: ["alg": "ES256", "typ": "JWT", "kid": kid], claims: claims)
        let signature = try! key.signature(for: Array(input.utf8))
        return input + "." + base64URL(signature.rawRepresentation)
    }

    static func eddsa(_ key: Curve25519.Signing.PrivateKey, kid: String, claims: [String: Any]) -> String {
        let input = signingInput(header: ["alg": "EdDSA", "typ": "JWT", "kid": kid], claims: claims)
        let signature = try! key.signature(for: Array(input.utf8))
        return input + "." + base64URL(signature)
    }

    static func rs256(_ key: _RSA.Signing.PrivateKey, kid: String, claims: [String: Any]) -> String {
        let input = signingInput(header: ["alg": "RS256", "typ": "JWT", "kid": kid], claims: claims)
        let signature = try! key.signature(for: SHA256.hash(data: Array(input.utf8)), padding: .insecurePKCS1v1_5)
        return input + "." + base64URL(signature.rawRepresentation)
    }

    /// A JWK (public part) for a P-256 key, for JWKS stubs.
    static func jwk(_ key: P256.Signing.PrivateKey, kid: String) -> [String: Any] {
        let raw = key.publicKey.rawRepresentation
        return ["kty": "EC", "crv": "P-256", "kid": kid, "alg": "ES256", "use": "sig", "x": base64URL(raw.prefix(32)), "y": base64URL(raw.suffix(32))]
    }

    static func jwks(_ keys: [[String: Any]]) -> String {
        String(decoding: json(["keys": keys]), as: UTF8.self)
    }

    /// Writes `text` to a new temporary file and returns its path.
    static func file(_ text: String, name: String = UUID().uuidString) -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("bff-test-\(name)").path
        FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
        return path
    }
}
