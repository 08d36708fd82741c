import BFFSpec
import Foundation
import JWTKit
import Synchronization

/// Verifies bearer JWTs against the spec's keys (and its JWKS, if any).
///
/// The key is chosen by `kid` alone and its algorithm is pinned by the spec (or the JWKS entry):
/// the token's `alg` must equal it, so `none`, HMAC-with-a-public-key and other algorithm
/// confusions are refused before any signature check. Header-supplied keys (`jku`, `x5u`, `jwk`,
/// `x5c`) are never read. jwt-kit checks the signature with a collection holding only that key;
/// the registered claims are then checked here with the spec's leeway. A token that passed is
/// kept in a ``VerifiedTokenCache``, so the next request with the same bytes skips the signature.
final class JWTVerifier: Sendable {
    /// One verification key: its pinned algorithm and a jwt-kit collection holding only it.
    struct Key: Sendable {
        let kid: String?
        let algorithm: JWTKeyAlgorithm
        let collection: JWTKeyCollection
    }

    let spec: JWTSpec
    private let staticKeys: [Key]
    /// Keys from the JWKS URL; nil when the spec names none.
    let jwks: JWKSKeySource?
    let verified: VerifiedTokenCache

    /// Reads every key's material now, so a missing secret or bad PEM stops start-up with its spec line.
    /// - Parameter loadKeys: false builds a verifier that knows no spec keys, for checking a spec
    ///   where its secrets are not available (`bff validate`).
    init(
        spec: JWTSpec,
        jwks: JWKSKeySource?,
        loadKeys: Bool = true,
        environment: [String: String] = ProcessInfo.processInfo.environment,
        cache: VerifiedTokenCache.Limits = .init()
    ) async throws(SpecLoadError) {
        self.spec = spec
        self.jwks = jwks
        verified = VerifiedTokenCache(limits: cache)
        var keys: [Key] = []
        var diagnostics: [SpecDiagnostic] = []
        for key in spec.keys where loadKeys {
            do {
                keys.append(try await Self.load(key, environment: environment))
            } catch {
                diagnostics.append(SpecDiagnostic(key.location, error.message, hint: error.hint))
            }
        }
        guard diagnostics.isEmpty else { throw SpecLoadError(diagnostics) }
        staticKeys = keys
    }

    /// The caller a valid token proves, or why the token is refused.
    func verify(_ token: String) async throws(AuthFailure) -> Principal {
        if let principal = verified.principal(for: token) { return principal }
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, !parts[1].isEmpty, token.utf8.count <= 16 * 1024,
            let header = Self.decodeJSON(parts[0]), let payload = Self.decodeJSON(parts[1])
        else { throw .malformedToken }
        guard case .string(let alg) = header["alg"] else { throw .malformedToken }
        let kid: String?
        switch header["kid"] {
        case .string(let value)?: kid = value
        case nil, .null?: kid = nil
        default: throw .malformedToken
        }
        // A name we do not know is logged as such: the failure must carry nothing a caller chose.
        let algName = alg.lowercased() == "none" ? "none" : JWTKeyAlgorithm(rawValue: alg)?.rawValue ?? "unrecognised"
        guard algName != "none" else { throw .algorithmNotAllowed(algName) }
        // RFC 7515 4.1.11: a token naming critical extensions we do not implement must be refused.
        guard header["crit"] == nil else { throw .malformedToken }
        guard let key = try await self.key(kid: kid) else { throw .unknownKeyID }
        guard key.algorithm.rawValue == alg else { throw .algorithmNotAllowed(algName) }
        do {
            _ = try await key.collection.verify(token, as: SignatureOnly.self)
        } catch {
            throw .badSignature
        }
        let (principal, validFor) = try principal(from: payload)
        verified.store(principal, for: token, expiresIn: validFor)
        return principal
    }

    private func key(kid: String?) async throws(AuthFailure) -> Key? {
        if let key = staticKeys.first(where: { $0.kid == kid }) { return key }
        guard let kid, let jwks else { return nil }
        return await jwks.key(kid: kid)
    }

    // MARK: Claims

    /// The caller the claims name, and how much longer they hold (until `exp`, leeway included).
    private func principal(from payload: JSONValue) throws(AuthFailure) -> (Principal, validFor: Duration) {
        let now = Date().timeIntervalSince1970
        let leeway = Double(spec.leeway.components.seconds)
        guard let expClaim = payload["exp"] else { throw .missingClaim("exp") }
        let exp = try NumericDate.seconds(expClaim, claim: "exp")
        guard now <= exp + leeway else { throw .expired }
        if let nbf = payload["nbf"] {
            guard now + leeway >= (try NumericDate.seconds(nbf, claim: "nbf")) else { throw .notYetValid }
        }
        if let iat = payload["iat"] {
            guard try NumericDate.seconds(iat, claim: "iat") <= now + leeway else { throw .issuedInTheFuture }
        }
        if let issuer = spec.issuer, payload["iss"] != .string(issuer) { throw .wrongIssuer }
        if let audience = spec.audience {
            switch payload["aud"] {
            case .string(let value)? where value == audience: break
            case .array(let values)? where values.contains(.string(audience)): break
            default: throw .wrongAudience
            }
        }
        guard case .string(let subject) = payload["sub"], !subject.isEmpty else { throw .missingClaim("sub") }
        var claims: [String: String] = [:]
        if case .object(let members) = payload {
            // The first of duplicate names wins, as for every other claim read through the subscript.
            for (name, value) in members.reversed() {
                if let text = value.templateText { claims[name] = text }
            }
        }
        let principal = Principal(
            method: .jwt,
            subject: subject,
            roles: Self.strings(payload[spec.rolesClaim]),
            scopes: Self.strings(payload[spec.scopesClaim]),
            claims: claims
        )
        return (principal, .milliseconds(Int64((exp + leeway - now) * 1000)))
    }

    /// A string claim split on spaces (OAuth `scope`), or an array of strings.
    private static func strings(_ value: JSONValue?) -> Set<String> {
        switch value {
        case .string(let text)?: return Set(text.split(separator: " ").map(String.init))
        case .array(let items)?: return Set(items.compactMap { if case .string(let s) = $0 { return s } else { return nil } })
        default: return []
        }
    }

    static func decodeJSON(_ part: Substring) -> JSONValue? {
        guard let bytes = Base64URL.decode(part) else { return nil }
        return try? JSONParser.parse(bytes)
    }

    // MARK: Keys

    private static func load(_ key: JWTKeySpec, environment: [String: String]) async throws(KeyLoadError) -> Key {
        let collection = JWTKeyCollection()
        let kid = key.kid.map { JWKIdentifier(string: $0) }
        switch key.material {
        case .secretEnv(let name):
            guard let secret = environment[name], !secret.isEmpty else {
                throw KeyLoadError(message: "JWT key secret: environment variable \(name) is not set", hint: "export \(name) with the shared secret (at least \(minimumSecretBytes(key.algorithm)) bytes)")
            }
            try await addHMAC(secret: Array(secret.utf8), to: collection, key: key, kid: kid)
        case .secretFile(let path):
            guard var secret = FileManager.default.contents(atPath: path).map(Array.init) else {
                throw KeyLoadError(message: "JWT key secret file '\(path)' cannot be read", hint: "check the path (relative to the spec) and its permissions")
            }
            while secret.last == UInt8(ascii: "\n") || secret.last == UInt8(ascii: "\r") { secret.removeLast() }
            try await addHMAC(secret: secret, to: collection, key: key, kid: kid)
        case .pemFile(let path):
            guard let pem = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw KeyLoadError(message: "JWT key PEM file '\(path)' cannot be read", hint: "check the path (relative to the spec) and its permissions")
            }
            do {
                switch key.algorithm {
                case .rs256: await collection.add(rsa: try Insecure.RSA.PublicKey(pem: pem), digestAlgorithm: .sha256, kid: kid)
                case .rs384: await collection.add(rsa: try Insecure.RSA.PublicKey(pem: pem), digestAlgorithm: .sha384, kid: kid)
                case .rs512: await collection.add(rsa: try Insecure.RSA.PublicKey(pem: pem), digestAlgorithm: .sha512, kid: kid)
                case .ps256: await collection.add(pss: try Insecure.RSA.PublicKey(pem: pem), digestAlgorithm: .sha256, kid: kid)
                case .ps384: await collection.add(pss: try Insecure.RSA.PublicKey(pem: pem), digestAlgorithm: .sha384, kid: kid)
                case .ps512: await collection.add(pss: try Insecure.RSA.PublicKey(pem: pem), digestAlgorithm: .sha512, kid: kid)
                case .es256: await collection.add(ecdsa: try ES256PublicKey(pem: pem), kid: kid)
                case .es384: await collection.add(ecdsa: try ES384PublicKey(pem: pem), kid: kid)
                case .es512: await collection.add(ecdsa: try ES512PublicKey(pem: pem), kid: kid)
                case .eddsa: await collection.add(eddsa: try EdDSA.PublicKey(pem: pem), kid: kid)
                case .hs256, .hs384, .hs512: throw KeyLoadError(message: "an HMAC key cannot come from a PEM file", hint: "use secret_env or secret_file")
                }
            } catch let error as KeyLoadError {
                throw error
            } catch {
                throw KeyLoadError(message: "JWT key PEM file '\(path)' is not a \(key.algorithm.rawValue) public key", hint: "give the PEM public key (or certificate) of that algorithm; RSA keys need 2048 bits or more")
            }
        }
        return Key(kid: key.kid, algorithm: key.algorithm, collection: collection)
    }

    private static func addHMAC(secret: [UInt8], to collection: JWTKeyCollection, key: JWTKeySpec, kid: JWKIdentifier?) async throws(KeyLoadError) {
        let minimum = minimumSecretBytes(key.algorithm)
        guard secret.count >= minimum else {
            throw KeyLoadError(message: "JWT \(key.algorithm.rawValue) secret is \(secret.count) bytes", hint: "use a random secret of at least \(minimum) bytes")
        }
        let digest: DigestAlgorithm = key.algorithm == .hs512 ? .sha512 : key.algorithm == .hs384 ? .sha384 : .sha256
        await collection.add(hmac: HMACKey(from: secret), digestAlgorithm: digest, kid: kid)
    }

    /// An HMAC secret must be at least as long as the hash output.
    static func minimumSecretBytes(_ algorithm: JWTKeyAlgorithm) -> Int {
        algorithm == .hs512 ? 64 : algorithm == .hs384 ? 48 : 32
    }

    struct KeyLoadError: Error {
        let message: String
        let hint: String
    }
}

/// RFC 7519's NumericDate as the claims `exp`, `nbf` and `iat` may hold it: seconds since the
/// epoch, a finite number from 0 to the last second of year 9999. Anything else (`1e309`, which
/// JSON reads as infinity and which would make `exp` never pass, a negative time, a string) makes
/// the token malformed, whichever claim holds it.
enum NumericDate {
    /// 9999-12-31T23:59:59Z.
    static let latest: Double = 253_402_300_799

    static func seconds(_ value: JSONValue, claim: String) throws(AuthFailure) -> Double {
        guard let seconds = value.numberValue, seconds.isFinite, (0...latest).contains(seconds) else {
            throw .invalidDate(claim)
        }
        return seconds
    }
}

/// jwt-kit checks only the signature; claims are checked by ``JWTVerifier`` with the spec's leeway.
private struct SignatureOnly: JWTPayload {
    func verify(using algorithm: some JWTAlgorithm) async throws {}
}

/// Base64url without padding, as in JWTs and JWKs.
enum Base64URL {
    static func decode(_ text: some StringProtocol) -> [UInt8]? {
        guard !text.contains("=") else { return nil }
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        return Data(base64Encoded: base64).map(Array.init)
    }
}
