/// What went wrong talking to Redis. Every failure of the client is one of these.
enum RedisError: Error, Hashable, CustomStringConvertible {
    /// No connection could be made (refused, unreachable, connect timeout, AUTH or SELECT
    /// refused), or one failed so recently that the client is still backing off.
    case connectFailed(endpoint: String, reason: String)
    /// No reply to `command` within `after`; the connection is closed, as later replies on it
    /// could no longer be matched to their commands.
    case timeout(command: String, after: Duration)
    /// Redis answered with an error reply (`NOSCRIPT ...`, `WRONGTYPE ...`).
    case server(message: String)
    /// Redis sent something that is not RESP2, or more than the client accepts.
    case protocolError(String)
    /// The connection closed before a reply came, or the client was shut down.
    case closed(reason: String)
    /// The waiting task was cancelled (a caller's own deadline passed first).
    case cancelled

    var description: String {
        switch self {
        case .connectFailed(let endpoint, let reason): "cannot connect to Redis at \(endpoint): \(reason)"
        case .timeout(let command, let after): "Redis did not answer \(command) within \(after)"
        case .server(let message): "Redis replied with an error: \(message)"
        case .protocolError(let detail): "Redis protocol error: \(detail)"
        case .closed(let reason): "Redis connection closed: \(reason)"
        case .cancelled: "the Redis call was cancelled"
        }
    }
}
