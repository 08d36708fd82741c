import BFFSpec
import HTTPTypes
import Logging
import NIOCore
import Prometheus
import ServiceLifecycle

/// One BFF's edge machinery, built once at start-up from its spec: the JWT verifier (with its
/// JWKS refresher), the API key store (with its file watcher) and the rate limiter.
final class EdgeRuntime: Sendable {
    let spec: EdgeSpec
    let jwt: JWTVerifier?
    let apiKeys: APIKeyStore?
    let limiter: RateLimiter?
    /// `forward_claims` as header names, resolved once.
    let claimHeaders: [(claim: String, name: HTTPField.Name)]
    /// Names the BFF in `WWW-Authenticate`.
    let realm: String
    /// Background work beside the server: JWKS refresh, keys-file reload.
    let services: [any Service]
    private let jwks: JWKSKeySource?

    /// - Parameters:
    ///   - limited: whether any route (YAML or Swift) or plan has limits.
    ///   - loadCredentials: false skips reading secrets, key files and JWKS, for `bff validate`.
    ///   - storeErrors: counts rate-limit checks the store failed to answer (a metric).
    ///   - previousLimiter: a reloaded spec's unchanged limiter, whose counts carry over.
    init(
        spec client: ClientSpec,
        limited: Bool,
        loadCredentials: Bool,
        group: any EventLoopGroup,
        storeErrors: Counter? = nil,
        reusing previousLimiter: RateLimiter? = nil,
        logger: Logger
    ) async throws(SpecLoadError) {
        let edge = client.edge
        spec = edge
        realm = client.name
        var services: [any Service] = []
        var diagnostics: [SpecDiagnostic] = []
        var jwks: JWKSKeySource?
        var jwt: JWTVerifier?
        if let jwtSpec = edge.auth?.jwt {
            do {
                if let jwksSpec = jwtSpec.jwks, loadCredentials {
                    let source = try JWKSKeySource(spec: jwksSpec, group: group, logger: logger)
                    jwks = source
                    services.append(source)
                }
                jwt = try await JWTVerifier(spec: jwtSpec, jwks: jwks, loadKeys: loadCredentials)
            } catch {
                diagnostics += error.diagnostics
            }
        }
        var apiKeys: APIKeyStore?
        if let keySpec = edge.auth?.apiKeys {
            do {
                let store = try APIKeyStore(spec: keySpec, logger: logger)
                apiKeys = store
                services.append(store)
            } catch {
                diagnostics += error.diagnostics
            }
        }
        guard diagnostics.isEmpty else {
            await jwks?.shutdown()
            throw SpecLoadError(diagnostics)
        }
        self.jwt = jwt
        self.jwks = jwks
        self.apiKeys = apiKeys
        // A Redis store connects on first use, so `bff validate` never reaches out to it.
        limiter = !limited ? nil : previousLimiter ?? RateLimiter.make(spec: edge.rateLimits, group: group, keyPrefix: client.name, timeout: edge.rateLimits.timeout, storeErrors: storeErrors, logger: logger)
        claimHeaders = (edge.auth?.forwardClaims ?? []).compactMap { entry in HTTPField.Name(entry.header).map { (entry.claim, $0) } }
        self.services = services
    }

    // MARK: forward_claims

    /// Removes every client-sent copy of a `forward_claims` header, before admission reads the
    /// request (a `header.<name>` rate-limit key, say).
    func removeClaimHeaders(from fields: inout HTTPFields) {
        for (_, name) in claimHeaders { fields[name] = nil }
    }

    /// Adds the caller's `forward_claims` headers to `fields` (where templates read them), each
    /// whose claim the caller has as a safe header value, and returns them for every upstream call.
    func addClaimHeaders(of principal: Principal, to fields: inout HTTPFields) -> [(String, String)] {
        var identity: [(String, String)] = []
        for (claim, name) in claimHeaders {
            guard let value = principal.claims[claim], CompiledTemplate.isSafeHeaderValue(value) else { continue }
            fields.append(HTTPField(name: name, value: value))
            identity.append((name.rawName, value))
        }
        return identity
    }

    /// Stops what holds connections (the JWKS client of a server that never ran, the Redis pool).
    /// - Parameter keepingLimiter: leave the limiter running, for the runtime a reload carried it over to.
    func shutdown(keepingLimiter: Bool = false) async {
        await jwks?.shutdown()
        if !keepingLimiter { await limiter?.shutdown() }
    }
}
