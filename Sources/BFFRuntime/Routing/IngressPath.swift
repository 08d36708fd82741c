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
        let utf8 = path.utf8
        guard utf8.first == UInt8(ascii: "/") else { throw .notAbsolute }
        var segments: [Substring] = []
        // Split on the bytes: `/` is ASCII, so every cut falls on a character boundary.
        var start = utf8.startIndex
        while start < utf8.endIndex {
            let end = utf8[start...].firstIndex(of: UInt8(ascii: "/")) ?? utf8.endIndex
            if start < end {
                let segment = path[start..<end]
                let bytes = segment.utf8
                if bytes.contains(UInt8(ascii: "%")) {
                    guard let decoded = PercentEncoding.decode(segment) else { throw .badEscape }
                    if decoded.contains("/") || decoded.contains("\\") { throw .encodedSlash }
                    if decoded.contains("\0") { throw .badEscape }
                    if decoded == "." || decoded == ".." { throw .encodedDotSegment }
                } else if bytes.count <= 2, bytes.allSatisfy({ $0 == UInt8(ascii: ".") }) {
                    // "." stays where it is; ".." goes up one.
                    if bytes.count == 2 { _ = segments.popLast() }
                    start = end
                    continue
                }
                segments.append(segment)
            }
            start = end < utf8.endIndex ? utf8.index(after: end) : end
        }
        self.segments = segments
    }

    var normalized: String { "/" + segments.joined(separator: "/") }
}
