import BFFSpec
import HTTPTypes
import Hummingbird

/// Security headers on every gateway response: `X-Content-Type-Options: nosniff`, a restrictive
/// CSP on HTML, HSTS when the client reached us over TLS (directly, or per a trusted proxy's
/// `X-Forwarded-Proto: https`), and no `Server` / `X-Powered-By` from anyone.
struct SecurityHeadersMiddleware: RouterMiddleware {
    typealias Context = BFFRequestContext

    let spec: SecurityHeadersSpec
    let trustedProxies: [CIDR]
    private let hsts: String?

    init(spec: SecurityHeadersSpec, trustedProxies: [CIDR]) {
        self.spec = spec
        self.trustedProxies = trustedProxies
        hsts = Self.hsts(spec)
    }

    /// The `Strict-Transport-Security` value `spec` asks for; nil sends none.
    static func hsts(_ spec: SecurityHeadersSpec) -> String? {
        spec.hstsMaxAge.map { "max-age=\($0.components.seconds); includeSubDomains" }
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        response.headers[.xContentTypeOptions] = "nosniff"
        response.headers[.server] = nil
        response.headers[.xPoweredBy] = nil
        if response.headers[.contentType]?.lowercased().hasPrefix("text/html") == true && response.headers[.contentSecurityPolicy] == nil {
            response.headers[.contentSecurityPolicy] = spec.htmlCSP
        }
        if let hsts, cameOverTLS(request, context: context) {
            response.headers[.strictTransportSecurity] = hsts
        }
        return response
    }

    private func cameOverTLS(_ request: Request, context: Context) -> Bool {
        if context.tls != nil { return true }
        guard request.headers[.xForwardedProto]?.lowercased() == "https", let peer = context.remoteAddress?.ipAddress else { return false }
        return trustedProxies.contains { $0.contains(peer) }
    }
}

extension HTTPField.Name {
    static let xContentTypeOptions = Self("X-Content-Type-Options")!
    static let xPoweredBy = Self("X-Powered-By")!
    static let contentSecurityPolicy = Self("Content-Security-Policy")!
    static let strictTransportSecurity = Self("Strict-Transport-Security")!
    static let xForwardedProto = Self("X-Forwarded-Proto")!
}
