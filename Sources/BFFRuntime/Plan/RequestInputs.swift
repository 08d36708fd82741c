public import HTTPTypes

/// The parts of a client request that templates may read: route captures, query, headers and
/// the authenticated caller's claims.
///
/// Captures and query values are percent-decoded once here; the plan re-encodes them for the
/// place each one is substituted into.
public struct RequestInputs: Sendable {
    public var captures: [String: String]
    public var query: [String: String]
    public var headers: HTTPFields
    public var requestID: String
    /// Claims of the authenticated caller (`{auth.sub}`); empty on public routes.
    public var claims: [String: String]
    /// The verified client certificate's subject (`{tls.subject}`); nil without one.
    public var tlsSubject: String?
    /// Headers every upstream call carries for the caller (`forward_claims`), e.g. `X-User-Id`.
    public var identityHeaders: [(String, String)] = []
    /// The authenticated caller, whose answers the cache keeps apart from everyone else's.
    public var principal: Principal?
    /// The request's server span when tracing: each call gets a child span and its own `traceparent`.
    var trace: ServerTrace?

    public init(
        captures: [String: String] = [:],
        query: [String: String] = [:],
        headers: HTTPFields = [:],
        requestID: String = "",
        claims: [String: String] = [:]
    ) {
        self.captures = captures
        self.query = query
        self.headers = headers
        self.requestID = requestID
        self.claims = claims
    }

    /// Parses a raw query string (`a=1&b=x%20y`); the first occurrence of a name wins.
    static func parseQuery(_ raw: Substring?) -> [String: String] {
        guard let raw, !raw.isEmpty else { return [:] }
        var result: [String: String] = [:]
        for pair in raw.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = PercentEncoding.decode(parts[0].replacing("+", with: " ")) ?? String(parts[0])
            let value = parts.count > 1 ? (PercentEncoding.decode(parts[1].replacing("+", with: " ")) ?? String(parts[1])) : ""
            if result[name] == nil { result[name] = value }
        }
        return result
    }
}
