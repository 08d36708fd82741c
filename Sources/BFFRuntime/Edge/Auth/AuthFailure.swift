/// Why a request was not authenticated. Logged, never shown to the client (which gets a plain 401).
public enum AuthFailure: Error, Sendable, Hashable, CustomStringConvertible {
    case missingCredentials
    case malformedToken
    /// The token's `alg` as one of the known names, `none`, or `unrecognised`; never its raw text.
    case algorithmNotAllowed(String)
    case unknownKeyID
    case badSignature
    case expired
    case notYetValid
    case issuedInTheFuture
    case wrongIssuer
    case wrongAudience
    case missingClaim(String)
    /// `exp`, `nbf` or `iat` is not a NumericDate (a finite number of seconds from 1970 to year 9999).
    case invalidDate(String)
    case unknownKey

    public var description: String {
        switch self {
        case .missingCredentials: "no credentials"
        case .malformedToken: "malformed token"
        case .algorithmNotAllowed(let alg): "algorithm '\(alg)' not allowed for the key"
        case .unknownKeyID: "unknown key id"
        case .badSignature: "bad signature"
        case .expired: "token expired"
        case .notYetValid: "token not yet valid (nbf)"
        case .issuedInTheFuture: "token issued in the future (iat)"
        case .wrongIssuer: "wrong issuer"
        case .wrongAudience: "wrong audience"
        case .missingClaim(let claim): "missing claim '\(claim)'"
        case .invalidDate(let claim): "claim '\(claim)' is not a date between 1970 and 9999"
        case .unknownKey: "unknown or revoked API key"
        }
    }
}
