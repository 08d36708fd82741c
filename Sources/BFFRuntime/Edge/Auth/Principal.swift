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
