import BFFSpec

/// What went wrong talking to a service. Converted to HTTP in one place (``Problem``) and to a
/// `_meta` status by the fan-out executor; never shown to clients with hosts or bodies.
public enum UpstreamError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No connection could be made within the connect timeout.
    case connectFailed(service: String)
    /// The call's time ran out (its own timeout or the endpoint's deadline).
    case timeout(service: String, after: Duration)
    /// The connection closed or reset before a complete response arrived.
    case connectionClosed(service: String)
    /// The response body was larger than the service's `max_body`.
    case bodyTooLarge(service: String, limit: Int)
    /// The service answered, but not with a usable HTTP response.
    case malformedResponse(service: String)
    /// The caller stopped waiting (a required call failed, or the client went away).
    case cancelled(service: String)

    public var description: String {
        switch self {
        case .connectFailed(let s): return "could not connect to service '\(s)'"
        case .timeout(let s, let after): return "service '\(s)' did not answer within \(after.milliseconds) ms"
        case .connectionClosed(let s): return "service '\(s)' closed the connection before answering"
        case .bodyTooLarge(let s, let limit): return "service '\(s)' sent a body over the \(limit)-byte limit"
        case .malformedResponse(let s): return "service '\(s)' sent a malformed response"
        case .cancelled(let s): return "call to service '\(s)' was cancelled"
        }
    }
}

extension UpstreamError {
    /// The same failure, naming `service` (connection-level failures are raised before the service is known).
    func attributed(to service: String) -> UpstreamError {
        switch self {
        case .connectFailed: return .connectFailed(service: service)
        case .timeout(_, let after): return .timeout(service: service, after: after)
        case .connectionClosed: return .connectionClosed(service: service)
        case .bodyTooLarge(_, let limit): return .bodyTooLarge(service: service, limit: limit)
        case .malformedResponse: return .malformedResponse(service: service)
        case .cancelled: return .cancelled(service: service)
        }
    }
}
