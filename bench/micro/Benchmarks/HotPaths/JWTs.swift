import Benchmark
import BFFSpec
@_spi(MicroBenchmarks) import BFFRuntime
import Foundation
import JWTKit

/// JWT verification: the first request with a bearer token has its signature checked by the key its
/// `kid` names, its registered claims checked, and its principal built (the verified-token cache off
/// here, so every iteration does that); later requests with the same token find it in the cache.
func jwtBenchmarks() {
    // A signature check costs microseconds, so each inner loop runs one token, not a thousand.
    let configuration = Benchmark.Configuration(scalingFactor: .one)

    Benchmark("JWT: HS256 verified", configuration: configuration) { benchmark, signed in
        for _ in benchmark.scaledIterations {
            blackHole(try? await signed.verification.verify(signed.token))
        }
    } setup: {
        try await SignedToken.hs256()
    }

    Benchmark("JWT: ES256 verified", configuration: configuration) { benchmark, signed in
        for _ in benchmark.scaledIterations {
            blackHole(try? await signed.verification.verify(signed.token))
        }
    } setup: {
        try await SignedToken.es256()
    }

    Benchmark("JWT: ES256 token verified before (cache hit)", configuration: configuration) { benchmark, signed in
        for _ in benchmark.scaledIterations {
            blackHole(try? await signed.verification.verify(signed.token))
        }
    } setup: {
        try await SignedToken.es256(cached: true)
    }
}

/// A verifier and a token it admits.
private struct SignedToken {
    let verification: HotPath.JWTVerification
    let token: String

    /// The claims an identity provider typically puts in an access token.
    struct Claims: JWTPayload {
        var sub: SubjectClaim
        var iss: IssuerClaim
        var aud: AudienceClaim
        var exp: ExpirationClaim
        var iat: IssuedAtClaim
        var scope: String
        var roles: [String]
        var tier: String

        func verify(using algorithm: some JWTAlgorithm) async throws {}
    }

    static let claims = Claims(
        sub: "u-1234", iss: "https://idp.example.com", aud: "bff",
        exp: .init(value: Date().addingTimeInterval(3600)), iat: .init(value: Date()),
        scope: "orders:read profile:read", roles: ["customer"], tier: "gold"
    )

    static func hs256(cached: Bool = false) async throws -> SignedToken {
        let secret = "micro-benchmark-secret-0123456789abcdef"
        let key = JWTKeySpec(kid: "hs", algorithm: .hs256, material: .secretEnv("MICRO_JWT_SECRET"), location: location)
        let signer = JWTKeyCollection()
        await signer.add(hmac: HMACKey(from: Array(secret.utf8)), digestAlgorithm: .sha256, kid: "hs")
        return try await SignedToken(key: key, environment: ["MICRO_JWT_SECRET": secret], token: signer.sign(claims, kid: "hs"), cached: cached)
    }

    static func es256(cached: Bool = false) async throws -> SignedToken {
        let privateKey = ES256PrivateKey()
        // The verifier reads PEM keys from files, at start-up: this one is read before it is removed.
        let pemFile = FileManager.default.temporaryDirectory.appendingPathComponent("bff-micro-\(ProcessInfo.processInfo.processIdentifier)-es256.pem")
        try privateKey.publicKey.pemRepresentation.write(to: pemFile, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: pemFile) }
        let key = JWTKeySpec(kid: "ec", algorithm: .es256, material: .pemFile(pemFile.path), location: location)
        let signer = JWTKeyCollection()
        await signer.add(ecdsa: privateKey, kid: "ec")
        return try await SignedToken(key: key, environment: [:], token: signer.sign(claims, kid: "ec"), cached: cached)
    }

    private static let location = SourceLocation(file: "micro.yaml", line: 1)

    private init(key: JWTKeySpec, environment: [String: String], token: String, cached: Bool) async throws {
        let spec = JWTSpec(issuer: "https://idp.example.com", audience: "bff", keys: [key], location: Self.location)
        verification = try await HotPath.JWTVerification(spec: spec, environment: environment, cached: cached)
        self.token = token
        do {
            _ = try await verification.verify(token)
        } catch {
            throw SetupFailure(description: "the \(key.algorithm.rawValue) token is refused: \(error)")
        }
    }
}
