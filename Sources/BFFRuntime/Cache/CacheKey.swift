import BFFSpec
import HTTPTypes
import NIOHTTP1

/// Whose answer a cache entry is: the part of every key that keeps one caller's answers from another.
enum CacheScope: Sendable, Hashable {
    /// A public route's request without credentials.
    case anonymous
    /// A JWT's `sub`.
    case subject(String)
    /// An API key's client.
    case client(String)
    /// `shared: true`: one answer for every caller.
    case shared

    /// The scope of a request, or nil when it must bypass the cache: it carries credentials the
    /// gateway did not verify into a principal (a public route sent `Authorization`), so an answer
    /// may depend on something no key can see.
    init?(principal: Principal?, carriesCredentials: Bool, shared: Bool) {
        if shared {
            self = .shared
        } else if let principal {
            switch principal.method {
            case .apiKey: self = .client(principal.clientID ?? principal.subject)
            case .jwt, .none: self = .subject(principal.subject)
            }
        } else if carriesCredentials {
            return nil
        } else {
            self = .anonymous
        }
    }

    var keyText: String {
        switch self {
        case .anonymous: return "anonymous"
        case .subject(let subject): return "sub=" + PercentEncoding.encode(subject)
        case .client(let client): return "client=" + PercentEncoding.encode(client)
        case .shared: return "shared"
        }
    }
}

/// Builds cache keys in their one printable form, which is also what the admin purge matches by
/// prefix:
///
///     call users GET /users/u1?x=1 | sub=u1
///     call users GET /users/u1 | accept-language=en | anonymous
///     endpoint GET /dashboard/u1?limit=5 | header.accept-language=en | sub=u1
///
/// Targets carry no spaces (templates refuse them and percent-encode every value), and every other
/// value is percent-encoded, so ` | ` only ever separates parts: no subject, header value or query
/// can make two different requests share a key.
enum CacheKey {
    /// The key of one call's answer: service, method, target (relative to the service's base path),
    /// the request headers its `Vary` names with their values, and the scope.
    static func call(service: String, target: String, vary: [(name: String, value: String)], scope: CacheScope) -> String {
        var key = "call \(service) GET \(target)"
        for (name, value) in vary {
            key += " | \(name)=\(PercentEncoding.encode(value))"
        }
        return key + " | " + scope.keyText
    }

    /// The key of an endpoint's composed body: the normalised path, the query values its templates
    /// read (sorted, so `?b=2&a=1` and `?a=1&b=2` share one), the headers and claims they read, and the scope.
    static func endpoint(path: String, query: [(name: String, value: String)], inputs: [(name: String, value: String)], scope: CacheScope) -> String {
        var key = "endpoint GET " + path
        for (i, (name, value)) in query.enumerated() {
            key += i == 0 ? "?" : "&"
            key += PercentEncoding.encode(name) + "=" + PercentEncoding.encode(value)
        }
        for (name, value) in inputs {
            key += " | \(name)=\(PercentEncoding.encode(value))"
        }
        return key + " | " + scope.keyText
    }

    /// The `Vary` header names of an answer, lowercased and sorted; nil for `Vary: *`, which no key can honour.
    static func varyNames(_ headers: HTTPHeaders) -> [String]? {
        var names: Set<String> = []
        for value in headers["vary"] {
            for name in value.split(separator: ",") {
                let trimmed = name.trimmingWhitespace.lowercased()
                if trimmed == "*" { return nil }
                if !trimmed.isEmpty { names.insert(trimmed) }
            }
        }
        return names.sorted()
    }

    /// The values the request to the service had for `names` (joined when repeated, empty when absent).
    static func varyValues(_ names: [String], in headers: HTTPHeaders) -> [(name: String, value: String)] {
        names.map { ($0, headers[$0].joined(separator: ",")) }
    }
}

/// Headers that carry a caller's credentials.
struct CredentialHeaders: Sendable {
    /// Lowercased names: `authorization` and the spec's API-key header.
    let names: [String]
    private let fields: [HTTPField.Name]

    init(apiKeyHeader: String?) {
        names = Array(Set(["authorization", (apiKeyHeader ?? APIKeySpec.defaultHeader).lowercased()])).sorted()
        fields = names.compactMap { HTTPField.Name($0) }
    }

    /// Whether a client request carries any.
    func present(in headers: HTTPFields) -> Bool {
        fields.contains { headers[$0] != nil }
    }

    /// Whether a request to a service carries any, a `Cookie` included: a forwarded credential makes
    /// the answer depend on something the key does not hold.
    func present(in headers: HTTPHeaders) -> Bool {
        headers.contains(name: "cookie") || names.contains { headers.contains(name: $0) }
    }
}
