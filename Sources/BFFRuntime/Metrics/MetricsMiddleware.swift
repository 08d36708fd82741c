import Hummingbird
import NIOCore
import Prometheus

/// Counts every request the public listener answers (problems included: it sits outside the
/// problem mapping) by route pattern and status, with its duration and its calls' outcomes.
struct MetricsMiddleware: RouterMiddleware {
    typealias Context = BFFRequestContext

    let metrics: BFFMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let started = NIODeadline.now()
        metrics.inFlight.increment()
        defer { metrics.inFlight.decrement() }
        let response = try await next(request, context)
        let elapsed = NIODeadline.now() - started
        metrics.record(
            route: context.record.route ?? "unmatched",
            status: Int(response.status.code),
            duration: .nanoseconds(elapsed.nanoseconds),
            calls: context.record.calls
        )
        return response
    }
}
