import Hummingbird

/// Starts each request's server span before anything else runs (so the access log and every call
/// see it) and ends it with the answer's status, named by the route that answered.
struct TracingMiddleware: RouterMiddleware {
    typealias Context = BFFRequestContext

    let tracer: RequestTracer

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        let trace = tracer.start(method: request.method.rawValue, path: Substring(request.uri.path), headers: request.headers, peer: context.remoteAddress)
        context.trace = trace
        do {
            let response = try await next(request, context)
            trace.end(route: context.record.route, status: Int(response.status.code))
            return response
        } catch {
            trace.end(route: context.record.route, status: (error as? Problem).map { Int($0.status.code) } ?? 500)
            throw error
        }
    }
}
