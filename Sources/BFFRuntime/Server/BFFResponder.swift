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
            return try await route.handler.handle(request, context: context, captures: captures)
        case .methodNotAllowed(let allowed):
            var problem = Problem(.methodNotAllowed, "\(request.method.rawValue) is not allowed on \(path.normalized)")
            problem.headers[.allow] = Set(allowed).sorted().joined(separator: ", ")
            throw problem
        case .notFound:
            throw Problem.notFound(path.normalized)
        }
    }

    private static func json(_ status: HTTPResponse.Status, _ body: String) -> Response {
        Response(status: status, headers: [.contentType: "application/json", .cacheControl: "no-store"], body: .init(byteBuffer: .init(string: body)))
    }
}

/// Whether the BFF takes new work: false from the moment a drain starts.
final class Readiness: Sendable {
    private let ready = Atomic<Bool>(true)
    var isReady: Bool { ready.load(ordering: .relaxed) }
    func startDraining() { ready.store(false, ordering: .relaxed) }
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
