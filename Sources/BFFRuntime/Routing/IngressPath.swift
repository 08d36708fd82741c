/// The request path normalised once at ingress; routing and everything after it use this form.
///
/// Plain dot segments are resolved and repeated slashes collapsed (RFC 3986 5.2.4); an encoded
/// slash (`%2F`), an encoded dot segment (`%2e%2e`), a NUL, or a malformed escape make the request a
/// 400, so a value can never change which route matches or which path a service sees.
struct IngressPath {
    /// Raw (still percent-encoded) segments, for forwarding.
    let segments: [Substring]

    /// Whether this is `/health` or `/ready`, which the server answers before routing.
    var isOperational: Bool { segments.count == 1 && (segments[0] == "health" || segments[0] == "ready") }

    enum Rejection: Error {
        case encodedSlash, encodedDotSegment, badEscape, notAbsolute
    }

    init(_ path: Substring) throws(Rejection) {
        guard path.first == "/" else { throw .notAbsolute }
        var segments: [Substring] = []
        for segment in path.split(separator: "/", omittingEmptySubsequences: true) {
            if segment.contains("%") {
                guard let decoded = PercentEncoding.decode(segment) else { throw .badEscape }
                if decoded.contains("/") || decoded.contains("\\") { throw .encodedSlash }
                if decoded.contains("\0") { throw .badEscape }
                if decoded == "." || decoded == ".." { throw .encodedDotSegment }
            } else if segment == "." {
                continue
            } else if segment == ".." {
                _ = segments.popLast()
                continue
            }
            segments.append(segment)
        }
        self.segments = segments
    }

    var normalized: String { "/" + segments.joined(separator: "/") }
}
