import BFFSpec
import NIOHTTP1

/// How long a stored answer serves: fresh, then within the stale windows.
struct CacheLifetime: Sendable, Hashable {
    /// Served without asking again.
    var ttl: Duration
    /// Past `ttl`: still stands in when the service fails.
    var staleIfError: Duration
    /// Past `ttl`: still served while one background request refreshes it.
    var staleWhileRevalidate: Duration
}

/// Decides whether a service's answer may be stored and for how long, from the spec's `cache:` and
/// the answer's own headers (RFC 9111 5.2.2).
///
/// Never stored: answers that set a cookie, say `private`, `no-store` or `no-cache` (the gateway
/// does not revalidate), `Vary: *`, or that give no freshness when the spec leaves it to them.
enum StoragePolicy {
    /// The lifetime of an answer with `headers`, or nil when it must not be stored. `age` is how old
    /// the answer already was, from the service's own `Age`, counted only when its freshness is honoured.
    static func lifetime(of headers: HTTPHeaders, spec: CacheSpec) -> (lifetime: CacheLifetime, age: Duration)? {
        if headers.contains(name: "set-cookie") { return nil }
        let directives = CacheControl(headers["cache-control"])
        if directives.noStore || directives.isPrivate || directives.noCache { return nil }
        var ttl: Duration
        var age = Duration.zero
        if let configured = spec.ttl {
            ttl = configured
        } else {
            // A shared cache takes s-maxage over max-age (RFC 9111 5.2.2.10).
            guard let seconds = directives.sharedMaxAge ?? directives.maxAge else { return nil }
            age = .seconds(headers.first(name: "age").flatMap { Int($0) }.map { max(0, $0) } ?? 0)
            ttl = .seconds(seconds)
        }
        guard ttl > age else { return nil }
        // must-revalidate and proxy-revalidate forbid serving the answer once stale (RFC 9111 5.2.2.2, 5.2.2.8).
        let staleAllowed = !directives.mustRevalidate
        return (
            CacheLifetime(
                ttl: ttl,
                staleIfError: staleAllowed ? spec.staleIfError : .zero,
                staleWhileRevalidate: staleAllowed ? spec.staleWhileRevalidate : .zero
            ),
            age
        )
    }
}

/// The `Cache-Control` directives the gateway acts on.
struct CacheControl: Sendable {
    var noStore = false
    var noCache = false
    var isPrivate = false
    var mustRevalidate = false
    var maxAge: Int?
    var sharedMaxAge: Int?

    /// Reads every `Cache-Control` field value; unknown directives are ignored, as RFC 9111 5.2.3 asks.
    init(_ values: [String]) {
        for value in values {
            for directive in value.split(separator: ",") {
                let parts = directive.split(separator: "=", maxSplits: 1)
                guard let rawName = parts.first else { continue }
                let name = rawName.trimmingWhitespace.lowercased()
                let argument = parts.count > 1 ? parts[1].trimmingWhitespace.trimmingQuotes : nil
                switch name {
                case "no-store": noStore = true
                // `no-cache="Set-Cookie"` names fields; the gateway never stores those answers anyway, so any form counts.
                case "no-cache": noCache = true
                case "private": isPrivate = true
                case "must-revalidate", "proxy-revalidate": mustRevalidate = true
                case "max-age": maxAge = argument.flatMap { Int($0) }.map { max(0, $0) } ?? maxAge
                case "s-maxage": sharedMaxAge = argument.flatMap { Int($0) }.map { max(0, $0) } ?? sharedMaxAge
                default: break
                }
            }
        }
    }
}

extension Substring {
    /// Without leading and trailing spaces and tabs (the whitespace of HTTP field values).
    var trimmingWhitespace: Substring {
        var slice = self
        while slice.first == " " || slice.first == "\t" { slice.removeFirst() }
        while slice.last == " " || slice.last == "\t" { slice.removeLast() }
        return slice
    }

    fileprivate var trimmingQuotes: Substring {
        count >= 2 && first == "\"" && last == "\"" ? dropFirst().dropLast() : self
    }
}
