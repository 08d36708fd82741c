public import BFFSpec
public import NIOCore

/// How one call ended, as reported in `_meta` and `Server-Timing`.
public enum CallStatus: String, Sendable {
    case ok, error, timeout, skipped, cancelled
    /// The service's circuit breaker was open: the call was not sent.
    case circuitOpen = "circuit_open"
}

/// Where a call's section of the response came from.
public enum CallSource: String, Sendable {
    case upstream, fallback
    /// A stored answer still fresh: the service was not asked.
    case cache
    /// The last good answer, standing in for a call that failed (`stale_if_error`).
    case stale
}

/// The result of one call: its status and timing, and the JSON it contributes.
public struct CallOutcome: Sendable {
    public var status: CallStatus
    /// The service's HTTP status, when it answered.
    public var http: Int?
    /// Wall time from start to end of the call, in milliseconds.
    public var milliseconds: Double
    public var source: CallSource
    /// The validated JSON bytes the service sent (ok calls only).
    public var body: ByteBuffer?
    /// The parsed result when someone needs it, or the fallback for failed optional calls.
    public var value: JSONValue?
    /// Why the call did not succeed, for logs (never sent to clients).
    public var reason: String?
    /// Requests sent for it: 1, or more after retries.
    public var attempts = 1
    /// Whether a hedged second request was sent.
    public var hedged = false
    /// For a call refused by an open circuit breaker: when the breaker may let calls through again.
    public var retryAfter: Duration?
    /// For a section from the cache (`source` cache or stale): how old the stored answer is, in seconds.
    public var ageSeconds: Int?
    /// The service's response headers, for the cache's storage rules; never sent to clients.
    /// Kept as received: only a call with a `cache:` builds them.
    var responseHeaders: ResponseFields?

    public var succeeded: Bool { status == .ok }

    /// Whether the section holds the service's data, fresh or a stale copy, rather than a fallback:
    /// a required call served stale does not fail the endpoint (it still marks the answer degraded).
    public var hasServiceData: Bool { status == .ok || source == .stale }

    static func ok(http: Int, milliseconds: Double, body: ByteBuffer, value: JSONValue?) -> CallOutcome {
        CallOutcome(status: .ok, http: http, milliseconds: milliseconds, source: .upstream, body: body, value: value)
    }

    static func failed(_ status: CallStatus, http: Int? = nil, milliseconds: Double, fallback: JSONValue?, reason: String) -> CallOutcome {
        CallOutcome(status: status, http: http, milliseconds: milliseconds, source: .fallback, body: nil, value: fallback ?? .null, reason: reason)
    }
}

/// A required call failed: the endpoint answers 502, or 504 when the call timed out.
public struct RequiredCallFailed: Error, Sendable {
    public let call: String
    public let status: CallStatus
    /// Every call's outcome at the moment of failure, for `_meta`-style reporting in the problem.
    public let outcomes: [(String, CallOutcome)]
    /// Whether the call carries values of the request, so a 400 or 422 from its service refuses the client's values.
    var readsRequest = false
}
