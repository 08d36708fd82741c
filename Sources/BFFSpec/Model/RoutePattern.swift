/// A route as written in a spec: `GET /dashboard/{id}` or `GET /api/users/{rest*}`.
///
/// `{name}` captures one path segment; `{name*}` (last segment only) captures the rest of the path,
/// slashes included. The method may be `*` to accept any method (proxy routes).
public struct RoutePattern: Sendable, Hashable, CustomStringConvertible {
    public enum Segment: Sendable, Hashable {
        case literal(String)
        case capture(String)
        case rest(String)
    }

    public var method: String
    public var path: String
    public var segments: [Segment]

    public var description: String { "\(method) \(path)" }

    /// Names of every capture, in order.
    public var captureNames: [String] {
        segments.compactMap {
            switch $0 {
            case .literal: return nil
            case .capture(let name), .rest(let name): return name
            }
        }
    }

    /// The name of the trailing `{name*}` capture, if any.
    public var restCapture: String? {
        if case .rest(let name) = segments.last { return name }
        return nil
    }

    static let methods: Set<String> = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "*"]

    /// Parses `METHOD /path`, throwing a message and hint on malformed routes.
    public static func parse(_ text: String) throws(RouteSyntaxError) -> RoutePattern {
        let pieces = text.split(separator: " ", omittingEmptySubsequences: true)
        guard pieces.count == 2 else {
            throw RouteSyntaxError(message: "route '\(text)' is not 'METHOD /path'", hint: "write e.g. 'GET /dashboard/{id}'")
        }
        let method = String(pieces[0])
        guard methods.contains(method) else {
            throw RouteSyntaxError(
                message: "unknown method '\(method)' in route '\(text)'",
                hint: "use one of \(methods.sorted().joined(separator: ", "))"
            )
        }
        let path = String(pieces[1])
        guard path.hasPrefix("/") else {
            throw RouteSyntaxError(message: "route path '\(path)' does not start with '/'", hint: "write e.g. '/dashboard/{id}'")
        }
        var segments: [Segment] = []
        var seen: Set<String> = []
        let raw = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        for (i, piece) in raw.enumerated() {
            if piece.isEmpty && i == raw.count - 1 && raw.count > 1 {
                throw RouteSyntaxError(message: "route path '\(path)' ends with '/'", hint: "remove the trailing slash")
            }
            if piece.hasPrefix("{") && piece.hasSuffix("}") {
                var name = String(piece.dropFirst().dropLast())
                let isRest = name.hasSuffix("*")
                if isRest { name.removeLast() }
                guard TemplateVariable.isIdentifier(name) else {
                    throw RouteSyntaxError(message: "bad capture '\(piece)' in route '\(path)'", hint: "captures are {name} or {name*} with letters, digits, '_' or '-'")
                }
                guard seen.insert(name).inserted else {
                    throw RouteSyntaxError(message: "capture '\(name)' appears twice in route '\(path)'", hint: "give each capture its own name")
                }
                if isRest {
                    guard i == raw.count - 1 else {
                        throw RouteSyntaxError(message: "'{\(name)*}' must be the last segment of route '\(path)'", hint: "move the rest capture to the end")
                    }
                    segments.append(.rest(name))
                } else {
                    segments.append(.capture(name))
                }
            } else if piece.contains("{") || piece.contains("}") {
                throw RouteSyntaxError(message: "capture '\(piece)' must be a whole segment in route '\(path)'", hint: "write e.g. '/users/{id}'")
            } else if piece.contains("%") || piece == "." || piece == ".." {
                throw RouteSyntaxError(message: "route segment '\(piece)' is not a plain name", hint: "write route literals without escapes or dot segments")
            } else if !piece.isEmpty {
                segments.append(.literal(String(piece)))
            }
        }
        return RoutePattern(method: method, path: path, segments: segments)
    }

    /// Whether two routes could match the same request (same method and shape), which would make one unreachable.
    public func overlaps(_ other: RoutePattern) -> Bool {
        guard method == other.method || method == "*" || other.method == "*" else { return false }
        return segments == other.segments
            || zip(segments, other.segments).allSatisfy { a, b in
                switch (a, b) {
                case (.literal(let x), .literal(let y)): return x == y
                case (.capture, .capture), (.rest, .rest): return true
                default: return false
                }
            } && segments.count == other.segments.count
    }
}

/// A malformed route, with what to write instead.
public struct RouteSyntaxError: Error, Sendable {
    public var message: String
    public var hint: String
}
