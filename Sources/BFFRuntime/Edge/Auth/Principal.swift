public import BFFSpec

/// Who is calling, as established by a verified JWT or API key. Travels in the request context.
public struct Principal: Sendable, Hashable {
    public var method: EndpointAuthSpec.Method
    /// The JWT `sub`, or the API key's client id.
    public var subject: String
    /// The API key's client id.
    public var clientID: String?
    /// The API key's plan.
    public var plan: String?
    public var roles: Set<String>
    public var scopes: Set<String>
    /// Top-level string, number and boolean claims as text, for `{auth.X}` and `forward_claims`.
    public var claims: [String: String]

    public init(
        method: EndpointAuthSpec.Method,
        subject: String,
        clientID: String? = nil,
        plan: String? = nil,
        roles: Set<String> = [],
        scopes: Set<String> = [],
        claims: [String: String] = [:]
    ) {
        self.method = method
        self.subject = subject
        self.clientID = clientID
        self.plan = plan
        self.roles = roles
        self.scopes = scopes
        self.claims = claims
    }
}

/// Why a request was not authenticated. Logged, never shown to the client (which gets a plain 401).
public enum AuthFailure: Error, Sendable, Hashable, CustomStringConvertible {
    case missingCredentials
    case malformedToken
    case algorithmNotAllowed(String)
    case unknownKeyID
    case badSignature
    case expired
    case notYetValid
    case issuedInTheFuture
    case wrongIssuer
    case wrongAudience
    case missingClaim(String)
    case unknownKey

    public var description: String {
        switch self {
        case .missingCredentials: "no credentials"
        case .malformedToken: "malformed token"
        case .algorithmNotAllowed(let alg): "algorithm '\(alg.prefix(16))' not allowed for the key"
        case .unknownKeyID: "unknown key id"
        case .badSignature: "bad signature"
        case .expired: "token expired"
        case .notYetValid: "token not yet valid (nbf)"
        case .issuedInTheFuture: "token issued in the future (iat)"
        case .wrongIssuer: "wrong issuer"
        case .wrongAudience: "wrong audience"
        case .missingClaim(let claim): "missing claim '\(claim)'"
        case .unknownKey: "unknown or revoked API key"
        }
    }
}
