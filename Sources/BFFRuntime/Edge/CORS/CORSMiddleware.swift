import BFFSpec
import HTTPTypes
import Hummingbird

/// Cross-origin access for browsers, per the BFF's `cors:` section.
///
/// Preflights are answered here (204) and never reach a route or a service. Every response says
/// `Vary: Origin`; an allowed origin is echoed exactly (never `*` together with credentials), and
/// `null`, look-alike and unlisted origins get no CORS headers, so the browser withholds the answer.
struct CORSMiddleware: RouterMiddleware {
    typealias Context = BFFRequestContext

    let spec: CORSSpec
    private let maxAge: String
    private let allowHeaders: String
    private let allowedHeaderNames: Set<String>
    private let answers: CORSAnswerFields

    static let allowedMethods = "GET, HEAD, POST, PUT, PATCH, DELETE"

    init(spec: CORSSpec) {
        self.spec = spec
        maxAge = String(spec.maxAge.components.seconds)
        allowHeaders = spec.allowHeaders.joined(separator: ", ")
        answers = CORSAnswerFields(spec: spec)
        allowedHeaderNames = Set(spec.allowHeaders.map { $0.lowercased() })
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let origin = request.headers[.origin]
        if request.method == .options, let origin, let method = request.headers[.accessControlRequestMethod] {
            return preflight(origin: origin, method: method, requestedHeaders: request.headers[.accessControlRequestHeaders], context: context)
        }
        var response = try await next(request, context)
        response.headers.append(.varyOrigin)
        for (name, value) in answers.fields(origin: origin) { response.headers[name] = value }
        return response
    }

    private func preflight(origin: String, method: String, requestedHeaders: String?, context: Context) -> Response {
        context.record.note(route: "preflight")
        var headers: HTTPFields = [.vary: "Origin, Access-Control-Request-Method, Access-Control-Request-Headers", .cacheControl: "no-store"]
        let requested = (requestedHeaders ?? "").split(separator: ",").map { $0.filter { $0 != " " && $0 != "\t" }.lowercased() }.filter { !$0.isEmpty }
        guard let allowed = answers.allowedOrigin(origin), Self.allowedMethods.contains(method), requested.allSatisfy(allowedHeaderNames.contains) else {
            // A refused preflight carries no CORS headers: the browser then blocks the real request.
            return Problem(.forbidden, "cross-origin request refused: the origin, method or headers are not allowed", headers: headers)
                .response(requestID: context.requestID, instance: nil)
        }
        headers[.accessControlAllowOrigin] = allowed
        headers[.accessControlAllowMethods] = Self.allowedMethods
        if !allowHeaders.isEmpty { headers[.accessControlAllowHeaders] = allowHeaders }
        headers[.accessControlMaxAge] = maxAge
        if spec.credentials { headers[.accessControlAllowCredentials] = "true" }
        return Response(status: .noContent, headers: headers)
    }
}

/// The CORS fields of an answer to an actual (not preflight) request, the same whichever path
/// answers it: for an allowed origin, that origin echoed (or `*` without credentials), whether
/// credentials may go with it and which response headers scripts may read; nothing otherwise.
/// (`Vary: Origin` goes on every answer, allowed or not, and is the caller's to add.)
struct CORSAnswerFields: Sendable {
    let spec: CORSSpec
    private let exposeHeaders: String
    /// The listed origins without a wildcard, lowercased: an `Origin` spelled exactly as one of
    /// them (as browsers send it) is allowed without parsing it. Empty when `*` is listed, which
    /// may come first and answer `*` instead.
    private let exactOrigins: Set<String>

    init(spec: CORSSpec) {
        self.spec = spec
        exposeHeaders = spec.exposeHeaders.joined(separator: ", ")
        exactOrigins = spec.origins.contains("*") ? [] : Set(spec.origins.filter { !$0.contains("*") }.map { $0.lowercased() })
    }

    /// The `Access-Control-Allow-Origin` value for `origin`, or nil when it is not allowed.
    func allowedOrigin(_ origin: String) -> String? {
        if exactOrigins.contains(origin) { return origin }
        for pattern in spec.origins where CORSOriginPattern.matches(origin, pattern: pattern) {
            return pattern == "*" && !spec.credentials ? "*" : origin
        }
        return nil
    }

    func fields(origin: String?) -> [(HTTPField.Name, String)] {
        guard let origin, let allowed = allowedOrigin(origin) else { return [] }
        var fields: [(HTTPField.Name, String)] = [(.accessControlAllowOrigin, allowed)]
        if spec.credentials { fields.append((.accessControlAllowCredentials, "true")) }
        if !exposeHeaders.isEmpty { fields.append((.accessControlExposeHeaders, exposeHeaders)) }
        return fields
    }
}

extension HTTPField {
    static let varyOrigin = HTTPField(name: .vary, value: "Origin")
}

extension HTTPField.Name {
    static let origin = Self("Origin")!
    static let accessControlRequestMethod = Self("Access-Control-Request-Method")!
    static let accessControlRequestHeaders = Self("Access-Control-Request-Headers")!
    static let accessControlAllowOrigin = Self("Access-Control-Allow-Origin")!
    static let accessControlAllowMethods = Self("Access-Control-Allow-Methods")!
    static let accessControlAllowHeaders = Self("Access-Control-Allow-Headers")!
    static let accessControlAllowCredentials = Self("Access-Control-Allow-Credentials")!
    static let accessControlExposeHeaders = Self("Access-Control-Expose-Headers")!
    static let accessControlMaxAge = Self("Access-Control-Max-Age")!
}
