/// One `{...}` placeholder in a call path or header template.
public struct TemplateVariable: Sendable, Hashable, CustomStringConvertible {
    /// Where a variable's value comes from.
    public enum Source: Sendable, Hashable {
        /// A route capture: `{path.id}`, or bare `{rest}`.
        case path(String)
        /// A query parameter of the client request: `{query.limit}`.
        case query(String)
        /// A header of the client request: `{header.accept-language}`.
        case header(String)
        /// A claim of the authenticated caller: `{auth.sub}`, `{auth.tenant}`.
        case auth(String)
        /// The subject of the client certificate the TLS handshake verified: `{tls.subject}`.
        case tlsSubject
        /// A value in another call's JSON result: `{user.tier}`, `{user.address.city}`.
        case call(String, path: [String])
    }

    /// How a substituted value must be encoded, decided by where the placeholder stands.
    public enum Placement: Sendable, Hashable {
        /// In the path: encoded as (part of) exactly one segment.
        case pathSegment
        /// After `?`: encoded as exactly one query value.
        case queryValue
        /// In a header value: must be free of control characters.
        case headerValue
    }

    public var source: Source
    public var defaultValue: String?
    public var placement: Placement
    /// The placeholder as written, braces included, for messages.
    public var text: String

    public var description: String { text }

    /// Names reserved for request inputs; a call may not use one as its name.
    public static let reservedPrefixes: Set<String> = ["path", "query", "header", "auth", "tls"]

    /// The call this variable reads from, if any: a dependency edge in the plan.
    public var callDependency: String? {
        if case .call(let name, _) = source { return name }
        return nil
    }

    static func isIdentifier(_ s: some StringProtocol) -> Bool {
        !s.isEmpty && s.utf8.allSatisfy { byte in
            (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
                || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
        }
    }
}
