import BFFSpec
import HTTPTypes
public import Hummingbird

/// Something that answers requests for one route: an aggregation, a proxy, a Swift endpoint.
public protocol EndpointHandler: Sendable {
    func handle(_ request: Request, context: BFFRequestContext, captures: [String: String]) async throws -> Response
}

/// Matches normalised paths against the compiled routes of one BFF.
struct Router: Sendable {
    struct Route: Sendable {
        let pattern: RoutePattern
        let handler: any EndpointHandler
        /// Auth, roles and limits, checked before the handler runs.
        let admission: RouteAdmission
        /// Its place in ``routesInOrder``, set by the router.
        fileprivate(set) var index = 0
    }

    enum Match {
        case found(Route, captures: [String: String])
        case methodNotAllowed(allowed: [String])
        case notFound
    }

    private let routes: [Route]

    var routesInOrder: [Route] { routes }

    init(routes: [Route]) {
        // Literal segments win over captures: more specific routes are tried first.
        var sorted = routes.sorted { lhs, rhs in
            Self.specificity(lhs.pattern) > Self.specificity(rhs.pattern)
        }
        for index in sorted.indices { sorted[index].index = index }
        self.routes = sorted
    }

    func match(method: HTTPRequest.Method, path: IngressPath) -> Match {
        var allowed: [String] = []
        for route in routes {
            guard let captures = Self.captures(route.pattern, path.segments) else { continue }
            if route.pattern.method == "*" || route.pattern.method == method.rawValue
                || (method == .head && route.pattern.method == "GET")
            {
                return .found(route, captures: captures)
            }
            allowed.append(route.pattern.method)
        }
        return allowed.isEmpty ? .notFound : .methodNotAllowed(allowed: allowed)
    }

    /// The captures of `segments` under `pattern`, or nil when it does not match. The literal
    /// segments and the count are checked first, so a route that does not match costs no decoding
    /// and no dictionary.
    private static func captures(_ pattern: RoutePattern, _ segments: [Substring]) -> [String: String]? {
        guard mayMatch(pattern, segments) else { return nil }
        var captures: [String: String] = [:]
        var index = 0
        for segment in pattern.segments {
            switch segment {
            case .literal(let literal):
                guard index < segments.count, segments[index] == literal else { return nil }
                index += 1
            case .capture(let name):
                guard index < segments.count, let value = PercentEncoding.decode(segments[index]) else { return nil }
                captures[name] = value
                index += 1
            case .rest(let name):
                let rest = segments[min(index, segments.count)...]
                guard let value = PercentEncoding.decode(rest.joined(separator: "/")) else { return nil }
                captures[name] = value
                index = segments.count
            }
        }
        return index == segments.count ? captures : nil
    }

    /// Whether `segments` has the literals of `pattern` where it has them, and as many segments
    /// (any number from the rest capture's place on).
    private static func mayMatch(_ pattern: RoutePattern, _ segments: [Substring]) -> Bool {
        var index = 0
        for segment in pattern.segments {
            switch segment {
            case .literal(let literal):
                guard index < segments.count, segments[index] == literal else { return false }
                index += 1
            case .capture:
                guard index < segments.count else { return false }
                index += 1
            case .rest:
                return true
            }
        }
        return index == segments.count
    }

    private static func specificity(_ pattern: RoutePattern) -> Int {
        pattern.segments.reduce(0) { score, segment in
            switch segment {
            case .literal: return score * 3 + 2
            case .capture: return score * 3 + 1
            case .rest: return score * 3
            }
        } * 2 + (pattern.method == "*" ? 0 : 1)
    }
}
