import BFFSpec
import HTTPTypes
import Hummingbird
import Synchronization

/// The innermost responder: health and readiness, ingress path normalisation, then routing.
struct BFFResponder: HTTPResponder {
    typealias Context = BFFRequestContext

    let router: Router
    let readiness: Readiness

    func respond(to request: Request, context: Context) async throws -> Response {
        let path: IngressPath
        do {
            path = try IngressPath(Substring(request.uri.path))
        } catch {
            throw Problem.badRequest("the request path is refused: encoded slashes, encoded dot segments and malformed escapes are not allowed")
        }
        if path.segments.count == 1 && (request.method == .get || request.method == .head) {
            switch path.segments[0] {
            case "health":
                context.record.note(route: "/health")
                return Self.json(.ok, #"{"status":"ok"}"#)
            case "ready":
                context.record.note(route: "/ready")
                return readiness.isReady ? Self.json(.ok, #"{"status":"ready"}"#) : Self.json(.serviceUnavailable, #"{"status":"draining"}"#)
            default:
                break
            }
        }
        switch router.match(method: request.method, path: path) {
        case .found(let route, let captures):
            return try await admitted(request, context: context, route: route, captures: captures)
        case .methodNotAllowed(let allowed):
            var problem = Problem(.methodNotAllowed, "\(request.method.rawValue) is not allowed on \(path.normalized)")
            problem.headers[.allow] = Set(allowed).sorted().joined(separator: ", ")
            throw problem
        case .notFound:
            throw Problem.notFound(path.normalized)
        }
    }

    /// Runs the route's admission, hands the caller's identity to the handler (and, through
    /// `forward_claims`, to upstreams in place of anything the client sent), and puts the rate-limit
    /// headers on whatever the handler answers.
    private func admitted(_ request: Request, context: Context, route: Router.Route, captures: [String: String]) async throws -> Response {
        // Noted before admission, so a refusal (401, 403, 429) is counted and logged under its route.
        context.record.note(route: route.pattern.path)
        var context = context
        let edge = route.admission.edge
        var request = request
        if !edge.claimHeaders.isEmpty {
            var head = request.head
            edge.removeClaimHeaders(from: &head.headerFields)
            request = Request(head: head, body: request.body)
        }
        let admission = try await route.admission.admit(&request, context: context)
        if let principal = admission.principal, !edge.claimHeaders.isEmpty {
            context.principal = principal
            var head = request.head
            context.identityHeaders = edge.addClaimHeaders(of: principal, to: &head.headerFields)
            request = Request(head: head, body: request.body)
        } else {
            context.principal = admission.principal
        }
        do {
            var response = try await route.handler.handle(request, context: context, captures: captures)
            response.headers.append(contentsOf: admission.headers)
            return response
        } catch var problem as Problem {
            problem.headers.append(contentsOf: admission.headers)
            throw problem
        }
    }

    private static func json(_ status: HTTPResponse.Status, _ body: String) -> Response {
        Response(status: status, headers: [.contentType: "application/json", .cacheControl: "no-store"], body: .init(byteBuffer: .init(string: body)))
    }
}

/// Whether the BFF takes new work: false from the moment a drain starts, and while a service some
/// required call needs has no instance passing its health checks.
final class Readiness: Sendable {
    private let draining = Atomic<Bool>(false)
    /// Services that required calls depend on, as of the spec now serving (a reload replaces them).
    private let required: Mutex<[ServiceCluster]>

    init(required: [ServiceCluster] = []) {
        self.required = Mutex(required)
    }

    var isReady: Bool { !draining.load(ordering: .relaxed) && required.withLock { $0.allSatisfy(\.hasHealthyInstance) } }
    func startDraining() { draining.store(true, ordering: .relaxed) }
    func require(_ clusters: [ServiceCluster]) { required.withLock { $0 = clusters } }
}

/// Folds middleware around a responder once, at start-up.
struct MiddlewareChain: HTTPResponder {
    typealias Context = BFFRequestContext

    let middleware: [any RouterMiddleware<BFFRequestContext>]
    let responder: BFFResponder

    func respond(to request: Request, context: Context) async throws -> Response {
        try await call(0, request, context)
    }

    private func call(_ index: Int, _ request: Request, _ context: Context) async throws -> Response {
        guard index < middleware.count else { return try await responder.respond(to: request, context: context) }
        return try await middleware[index].handle(request, context: context) { request, context in
            try await call(index + 1, request, context)
        }
    }
}
