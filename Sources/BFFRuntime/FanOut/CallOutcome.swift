public import BFFSpec
public import NIOCore

/// How one call ended, as reported in `_meta` and `Server-Timing`.
public enum CallStatus: String, Sendable {
    case ok, error, timeout, skipped, cancelled
}

/// Where a call's section of the response came from.
public enum CallSource: String, Sendable {
    case upstream, fallback
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

    public var succeeded: Bool { status == .ok }

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
}
