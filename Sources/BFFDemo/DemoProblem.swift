import HTTPTypes
import Hummingbird

/// A client error a demo service answers with an RFC 9457 problem document (`application/problem+json`).
struct DemoProblem: HTTPResponseError {
    let status: HTTPResponse.Status
    /// What went wrong and what to send instead.
    let detail: String

    /// An unknown resource.
    ///
    /// - Parameters:
    ///   - kind: What was looked up, such as `user`.
    ///   - id: The identifier that matched nothing.
    ///   - known: The identifiers that would have matched, such as `u1 ... u20`.
    static func notFound(_ kind: String, id: String, known: String) -> Self {
        Self(status: .notFound, detail: "no \(kind) with id '\(id)'; known ids are \(known)")
    }

    /// A request the service cannot understand.
    ///
    /// - Parameter detail: What is wrong with it and how to fix it.
    static func badRequest(_ detail: String) -> Self {
        Self(status: .badRequest, detail: detail)
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        let body = ProblemBody(
            title: status.reasonPhrase,
            status: status.code,
            detail: detail,
            instance: request.uri.path
        )
        return try EditedResponse(
            status: status,
            headers: [.contentType: "application/problem+json"],
            response: body
        ).response(from: request, context: context)
    }
}

/// The JSON shape of a problem document.
struct ProblemBody: ResponseEncodable {
    let type = "about:blank"
    let title: String
    let status: Int
    let detail: String
    let instance: String
}
