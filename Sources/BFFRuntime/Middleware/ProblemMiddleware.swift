public import Hummingbird
import Logging

/// Turns every error thrown below it into `application/problem+json` with the request id: the one
/// place errors become HTTP. Unknown errors become a bare 500 whose details go only to the log.
public struct ProblemMiddleware: RouterMiddleware {
    public typealias Context = BFFRequestContext

    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let problem as Problem {
            return problem.response(requestID: context.requestID, instance: request.uri.path)
        } catch let error as any HTTPResponseError {
            let problem = Problem(error.status, error.status.reasonPhrase)
            return problem.response(requestID: context.requestID, instance: request.uri.path)
        } catch {
            context.logger.error("unhandled error", metadata: ["request_id": "\(context.requestID)", "error": "\(error)"])
            return Problem(.internalServerError, "the gateway failed to handle the request")
                .response(requestID: context.requestID, instance: request.uri.path)
        }
    }
}
