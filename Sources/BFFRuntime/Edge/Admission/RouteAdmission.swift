import BFFSpec
import Crypto
import HTTPTypes
import Hummingbird
import Logging
import NIOCore

/// Who the caller is and what limits say, decided once per request after routing and before the
/// endpoint runs: 401 without valid credentials, 403 without the route's roles or scopes or an
/// accepted client certificate, 429 over a limit or quota. Built per route at start-up from the spec.
///
/// Two ways in, one set of rules: ``admit(_:context:)`` for a request in Hummingbird, which may
/// wait (a JWT's signature, a Redis limiter), and ``admitOnLoop(_:)`` for one answered on its event
/// loop, which decides only what needs no waiting (a token verified before, an API key, the
/// in-process limiter) and otherwise says it cannot, consuming nothing.
struct RouteAdmission: Sendable {
    /// Accepted methods, roles and scopes; nil on a BFF that declares no auth.
    let auth: EndpointAuthSpec?
    /// BFF-wide limits, then the route's own, each with an id that keeps its budget apart.
    let limits: [(id: String, spec: RateLimitSpec)]
    /// Largest request body the route reads (aggregations); nil for proxies, which stream under
    /// the connection-level cap.
    let bodyLimit: Int?
    let edge: EdgeRuntime

    /// What admission reads of a request, whichever path holds it.
    struct Input {
        var headers: HTTPFields
        var query: Substring?
        var peer: SocketAddress?
        var tlsSubject: String?
        var requestID: String
        var logger: Logger
    }

    /// An admission decided on the event loop, or the news that it needs to wait.
    enum OnLoop {
        case admitted(Admission)
        case refused(Problem)
        /// The route's token has not been verified yet, or its limits live in a remote store.
        case undecided
    }

    /// - Parameter request: on a route with a body limit, a body of undeclared length (chunked, or
    ///   an HTTP/2 stream's without `content-length`) is read here, up to the limit, and left in
    ///   `request` for the endpoint.
    func admit(_ request: inout Request, context: BFFRequestContext) async throws(Problem) -> Admission {
        if let bodyLimit {
            try await limitBody(of: &request, to: bodyLimit, context: context)
        }
        let input = Input(
            headers: request.headers, query: request.uri.query.map { Substring($0) }, peer: context.remoteAddress,
            tlsSubject: context.tls?.clientSubject, requestID: context.requestID, logger: context.logger
        )
        try checkSubject(input)
        let principal: Principal?
        switch try credential(input) {
        case nil:
            principal = nil
        case .bearer(let token)?:
            do {
                principal = try await edge.jwt!.verify(token)
            } catch {
                throw unauthenticated(error, input)
            }
        case .apiKey(let key)?:
            principal = try apiKeyCaller(key, input)
        }
        if let principal, let auth { try authorize(principal, auth) }
        let checks = try limitChecks(input, principal: principal)
        guard let limiter = edge.limiter, !checks.isEmpty else { return Admission(principal: principal, headers: [:]) }
        return Admission(principal: principal, headers: try limitHeaders(await limiter.check(checks), checks, input))
    }

    /// The same admission as ``admit(_:context:)`` for a body-less request, decided without waiting
    /// or ``OnLoop/undecided``.
    func admitOnLoop(_ input: Input) -> OnLoop {
        do throws(Problem) {
            try checkSubject(input)
            let principal: Principal?
            switch try credential(input) {
            case nil:
                principal = nil
            case .bearer(let token)?:
                guard let known = edge.jwt!.verified.principal(for: token) else { return .undecided }
                principal = known
            case .apiKey(let key)?:
                principal = try apiKeyCaller(key, input)
            }
            if let principal, let auth { try authorize(principal, auth) }
            let checks = try limitChecks(input, principal: principal)
            guard let limiter = edge.limiter, !checks.isEmpty else { return .admitted(Admission(principal: principal, headers: [:])) }
            guard let verdict = limiter.checkOnLoop(checks) else { return .undecided }
            return .admitted(Admission(principal: principal, headers: try limitHeaders(verdict, checks, input)))
        } catch {
            return .refused(error)
        }
    }

    /// Whether every request is admitted as it is: a public route without rate limits, whose
    /// admission has nothing to decide (nor any `RateLimit-*` fields to give).
    var admitsEveryone: Bool {
        limits.isEmpty && (auth.map { $0.isPublic && $0.tlsSubjects.isEmpty } ?? true)
    }

    /// Whether ``admitOnLoop(_:)`` can ever decide for this route without waiting on a store.
    var decidesOnLoop: Bool {
        edge.limiter.map { !$0.store.isRemote } ?? true
    }

    /// 413 (closing the connection, so the rest of the body is never read) for a declared length
    /// over `limit`, or as soon as an undeclared one has passed it.
    private func limitBody(of request: inout Request, to limit: Int, context: BFFRequestContext) async throws(Problem) {
        let tooLarge = Problem(.contentTooLarge, "the request body is larger than this route accepts (\(limit) bytes)", headers: [.connection: "close"])
        if let declared = request.headers[.contentLength] {
            if let length = Int(declared), length > limit { throw tooLarge }
            return
        }
        guard request.headers[.transferEncoding] != nil || context.isHTTP2Stream else { return }
        do {
            request.body = RequestBody(buffer: try await request.body.collect(upTo: limit))
        } catch {
            throw tooLarge
        }
    }

    private func checkSubject(_ input: Input) throws(Problem) {
        guard let auth, !auth.tlsSubjects.isEmpty else { return }
        guard let subject = input.tlsSubject, auth.tlsSubjects.contains(subject) else {
            input.logger.info(
                "client certificate not accepted on this route",
                metadata: ["request_id": "\(input.requestID)", "subject": "\(input.tlsSubject ?? "(none)")"]
            )
            throw Problem(.forbidden, "this route needs a client certificate it accepts")
        }
    }

    // MARK: Authentication

    private enum Credential {
        case bearer(String)
        case apiKey(String)
    }

    /// The credential the route checks; nil on a public route. 401 when there is none, 400 for
    /// credentials in the query.
    private func credential(_ input: Input) throws(Problem) -> Credential? {
        guard let auth, !auth.isPublic else { return nil }
        if let name = Self.credentialInQuery(input.query) {
            throw Problem(.badRequest, "credentials in the query string ('\(name)') are refused; send them in a header")
        }
        if auth.methods.contains(.jwt), edge.jwt != nil, let token = Self.bearerToken(input.headers) { return .bearer(token) }
        if auth.methods.contains(.apiKey), let store = edge.apiKeys, let key = input.headers[store.headerName] { return .apiKey(key) }
        throw unauthenticated(.missingCredentials, input)
    }

    private func apiKeyCaller(_ key: String, _ input: Input) throws(Problem) -> Principal {
        if let principal = edge.apiKeys?.authenticate(key) { return principal }
        throw unauthenticated(.unknownKey, input)
    }

    /// The 401 for `failure`, which is logged and never shown.
    private func unauthenticated(_ failure: AuthFailure, _ input: Input) -> Problem {
        input.logger.info("request not authenticated", metadata: ["request_id": "\(input.requestID)", "reason": "\(failure)"])
        let jwt = auth?.methods.contains(.jwt) ?? false
        var headers = HTTPFields()
        if jwt { headers[.wwwAuthenticate] = "Bearer realm=\"\(edge.realm)\"" }
        return Problem(.unauthorized, jwt ? "a valid bearer token is required" : "a valid API key is required", headers: headers)
    }

    private func authorize(_ principal: Principal, _ auth: EndpointAuthSpec) throws(Problem) {
        if !auth.roles.isEmpty && principal.roles.isDisjoint(with: auth.roles) {
            throw Problem(.forbidden, "this route needs one of the roles: \(auth.roles.joined(separator: ", "))")
        }
        if !auth.scopes.allSatisfy(principal.scopes.contains) {
            throw Problem(.forbidden, "this route needs the scopes: \(auth.scopes.joined(separator: " "))")
        }
    }

    private static let queryCredentialNames: Set<String> = ["api_key", "apikey", "api-key", "x-api-key", "key", "access_token", "token", "jwt"]

    private static func credentialInQuery(_ query: Substring?) -> String? {
        guard let query, !query.isEmpty else { return nil }
        return RequestInputs.parseQuery(query).keys.first { queryCredentialNames.contains($0.lowercased()) }
    }

    private static func bearerToken(_ headers: HTTPFields) -> String? {
        guard let value = headers[.authorization], value.count > 7, value.prefix(7).lowercased() == "bearer " else { return nil }
        let token = value.dropFirst(7).drop { $0 == " " }
        return token.isEmpty ? nil : String(token)
    }

    // MARK: Limits

    /// Every limit the request counts against: the route's and BFF-wide ones by their keys, and the
    /// API key's plan (403 when the plan is unknown).
    private func limitChecks(_ input: Input, principal: Principal?) throws(Problem) -> [LimitCheck] {
        var checks: [LimitCheck] = []
        var address: String?
        func clientAddress() -> String {
            if let address { return address }
            let resolved = ClientAddress.resolve(
                peer: input.peer,
                forwardedFor: input.headers[values: .xForwardedFor],
                forwarded: input.headers[values: .forwarded],
                trusted: edge.spec.trustedProxies
            )
            address = resolved
            return resolved
        }
        for (id, limit) in limits {
            let subject: String
            switch limit.key {
            case .ip: subject = "ip:" + clientAddress()
            case .user: subject = principal.map { $0.method == .jwt ? "user:" + $0.subject : "client:" + $0.subject } ?? "ip:" + clientAddress()
            case .apiKey: subject = principal?.clientID.map { "client:" + $0 } ?? "ip:" + clientAddress()
            case .header(let name): subject = HTTPField.Name(name).flatMap { input.headers[$0] }.map { "h:" + Self.compact($0) } ?? "ip:" + clientAddress()
            }
            checks.append(LimitCheck(key: "\(id):\(subject)", kind: .rate(limit.rate, burst: limit.burst)))
        }
        if let principal, let planName = principal.plan {
            guard let plan = edge.spec.plans[planName] else {
                input.logger.error("API key names an unknown plan", metadata: ["request_id": "\(input.requestID)", "client": "\(principal.clientID ?? "")", "plan": "\(planName)"])
                throw Problem(.forbidden, "this API key's plan is not available; contact the API owner")
            }
            let client = principal.clientID ?? principal.subject
            if let rate = plan.rate { checks.append(LimitCheck(key: "plan:\(client)", kind: .rate(rate, burst: plan.burst ?? rate.count))) }
            for quota in plan.quotas { checks.append(LimitCheck(key: "quota:\(client)", kind: .quota(quota))) }
        }
        return checks
    }

    /// The `RateLimit-*` headers of an allowed request, or the 429 (or 503) of a refused one.
    private func limitHeaders(_ verdict: RateLimiter.Verdict, _ checks: [LimitCheck], _ input: Input) throws(Problem) -> HTTPFields {
        switch verdict {
        case .allowed(let decisions):
            return decisions.min { $0.remaining < $1.remaining }.map(Self.headers) ?? [:]
        case .limited(let decisions):
            let denied = zip(checks, decisions).first { !$0.1.allowed } ?? (checks[0], decisions[0])
            var headers = Self.headers(denied.1)
            headers[.retryAfter] = String(max(1, Self.ceilSeconds(denied.1.retryAfter)))
            input.logger.info("request limited", metadata: ["request_id": "\(input.requestID)", "limit": "\(denied.0.key)"])
            if case .quota(let quota) = denied.0.kind {
                throw Problem(.tooManyRequests, "the \(quota.window == .day ? "daily" : "monthly") quota of \(quota.count) requests is used up; it resets in \(Self.ceilSeconds(denied.1.resetAfter)) s", headers: headers)
            }
            throw Problem(.tooManyRequests, "too many requests; retry after \(headers[.retryAfter] ?? "1") s", headers: headers)
        case .storeUnavailable(let allowed):
            if allowed { return [:] }
            throw Problem(.serviceUnavailable, "rate limiting is unavailable, so requests are refused for now", headers: [.retryAfter: "1"])
        }
    }

    /// IETF `RateLimit-*` draft headers for one decision.
    private static func headers(_ decision: LimitDecision) -> HTTPFields {
        [
            .rateLimitLimit: String(decision.limit),
            .rateLimitRemaining: String(max(0, decision.remaining)),
            .rateLimitReset: String(ceilSeconds(decision.resetAfter)),
        ]
    }

    private static func ceilSeconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds + (attoseconds > 0 ? 1 : 0)
    }

    /// Long header values are hashed, so a limiter key stays small whatever the client sends.
    private static func compact(_ value: String) -> String {
        guard value.utf8.count > 64 else { return value }
        return SHA256.hash(data: Array(value.utf8)).map { String($0, radix: 16) }.joined()
    }
}

/// What admission found: the caller, and the rate-limit headers every response of the route carries.
struct Admission: Sendable {
    let principal: Principal?
    let headers: HTTPFields
}

extension HTTPField.Name {
    static let wwwAuthenticate = Self("WWW-Authenticate")!
    static let xForwardedFor = Self("X-Forwarded-For")!
    static let forwarded = Self("Forwarded")!
    static let rateLimitLimit = Self("RateLimit-Limit")!
    static let rateLimitRemaining = Self("RateLimit-Remaining")!
    static let rateLimitReset = Self("RateLimit-Reset")!
}
