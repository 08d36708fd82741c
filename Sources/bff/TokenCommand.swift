import ArgumentParser
import Foundation
import JWTKit

struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token",
        abstract: "Mint an HS256 JWT for trying a BFF, signed with the secret in an environment variable.",
        discussion: """
            For development and tests: production tokens come from your identity provider.
            Example: BFF_JWT_SECRET=... bff token --sub u1 --roles admin
            """
    )

    @Option(help: "The subject (sub claim).")
    var sub: String

    @Option(parsing: .upToNextOption, help: "Roles (roles claim).")
    var roles: [String] = []

    @Option(help: "Space-separated scopes (scope claim).")
    var scope: String?

    @Option(help: "Environment variable holding the HMAC secret.")
    var secretEnv = "BFF_JWT_SECRET"

    @Option(help: "Key id (kid header) of the spec key the secret belongs to.")
    var kid: String?

    @Option(help: "Issuer (iss claim).")
    var issuer: String?

    @Option(help: "Audience (aud claim).")
    var audience: String?

    @Option(help: "Lifetime in seconds.")
    var ttl = 3600

    func run() async throws {
        guard let secret = ProcessInfo.processInfo.environment[secretEnv], !secret.isEmpty else {
            throw ValidationError("\(secretEnv) is not set; export the secret your spec's key reads (secret_env)")
        }
        guard secret.utf8.count >= TokenMinter.minimumSecretBytes else {
            throw ValidationError("\(secretEnv) is shorter than \(TokenMinter.minimumSecretBytes) bytes; HS256 needs a secret at least as long as its hash")
        }
        print(try await TokenMinter.mint(secret: secret, kid: kid, claims: .init(sub: sub, roles: roles, scope: scope, issuer: issuer, audience: audience, ttl: ttl)))
    }
}

/// Signs HS256 tokens for `bff token` and the demo.
enum TokenMinter {
    static let minimumSecretBytes = 32

    struct Claims: JWTPayload {
        var sub: SubjectClaim
        var exp: ExpirationClaim
        var iat: IssuedAtClaim
        var iss: IssuerClaim?
        var aud: AudienceClaim?
        var roles: [String]?
        var scope: String?

        init(sub: String, roles: [String], scope: String?, issuer: String?, audience: String?, ttl: Int) {
            let now = Date()
            self.sub = SubjectClaim(value: sub)
            self.exp = ExpirationClaim(value: now.addingTimeInterval(TimeInterval(ttl)))
            self.iat = IssuedAtClaim(value: now)
            self.iss = issuer.map { IssuerClaim(value: $0) }
            self.aud = audience.map { AudienceClaim(value: [$0]) }
            self.roles = roles.isEmpty ? nil : roles
            self.scope = scope
        }

        func verify(using algorithm: some JWTAlgorithm) async throws {}
    }

    static func mint(secret: String, kid: String?, claims: Claims) async throws -> String {
        let keys = JWTKeyCollection()
        let identifier = kid.map { JWKIdentifier(string: $0) }
        await keys.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256, kid: identifier)
        return try await keys.sign(claims, kid: identifier)
    }
}
