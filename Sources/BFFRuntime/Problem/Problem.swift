public import BFFSpec
public import HTTPTypes
public import Hummingbird
import NIOCore

/// An error answered to the client as `application/problem+json` (RFC 9457), carrying the request
/// id. The one place gateway errors become HTTP; details never include upstream hosts or bodies.
public struct Problem: Error, Sendable {
    public var status: HTTPResponse.Status
    public var detail: String
    /// Extra members (e.g. `calls` for a failed aggregation).
    public var extensions: [(String, JSONValue)]
    public var headers: HTTPFields

    public init(_ status: HTTPResponse.Status, _ detail: String, extensions: [(String, JSONValue)] = [], headers: HTTPFields = [:]) {
        self.status = status
        self.detail = detail
        self.extensions = extensions
        self.headers = headers
    }

    /// The problem as a response for `requestID`, naming `instance` (the request path).
    public func response(requestID: String, instance: String?) -> Response {
        let (headers, body) = encoded(requestID: requestID, instance: instance)
        return Response(status: status, headers: headers, body: .init(byteBuffer: body))
    }

    /// The problem's headers and `application/problem+json` body, for writers that answer without
    /// a Hummingbird `Response`.
    func encoded(requestID: String, instance: String?) -> (HTTPFields, ByteBuffer) {
        var members: [(String, JSONValue)] = [
            ("type", "about:blank"),
            ("title", .string(status.reasonPhrase)),
            ("status", .number(Double(status.code))),
            ("detail", .string(detail)),
        ]
        if let instance { members.append(("instance", .string(instance))) }
        members.append(("request_id", .string(requestID)))
        members += extensions
        var bytes: [UInt8] = []
        JSONValue.object(members).write(to: &bytes)
        var headers = self.headers
        headers[.contentType] = "application/problem+json"
        headers[.cacheControl] = "no-store"
        return (headers, ByteBuffer(bytes: bytes))
    }
}

extension Problem {
    static func badRequest(_ detail: String) -> Problem { Problem(.badRequest, detail) }
    static func notFound(_ path: String) -> Problem { Problem(.notFound, "no route matches \(path)") }

    /// A failed upstream call as a client-facing problem: 504 for timeouts, 502 otherwise.
    static func upstream(_ error: UpstreamError) -> Problem {
        switch error {
        case .timeout(let service, _): return Problem(.gatewayTimeout, "service '\(service)' did not answer in time")
        case .connectFailed(let service): return Problem(.badGateway, "service '\(service)' is unreachable")
        default: return Problem(.badGateway, "service '\(error.serviceName)' failed")
        }
    }

    /// A service whose circuit breaker is open: 503, with when to try again.
    static func circuitOpen(service: String, retryAfter: Duration) -> Problem {
        let seconds = max(1, Int((Double(retryAfter.nanosecondsValue) / 1e9).rounded(.up)))
        return Problem(.serviceUnavailable, "service '\(service)' is failing and is not being called for now", headers: [.retryAfter: String(seconds)])
    }
}

extension UpstreamError {
    var serviceName: String {
        switch self {
        case .connectFailed(let s), .timeout(let s, _), .connectionClosed(let s), .bodyTooLarge(let s, _), .malformedResponse(let s), .cancelled(let s):
            return s
        }
    }
}
