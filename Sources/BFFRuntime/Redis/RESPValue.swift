import NIOCore

/// One RESP2 reply from Redis.
///
/// A nil bulk string (`$-1`) and a nil array (`*-1`) are both `.null`: no caller tells them apart.
enum RESPValue: Sendable, Hashable {
    case simpleString(String)
    /// An error reply (`-ERR ...`); the connection turns it into `RedisError.server` for callers.
    case error(String)
    case integer(Int64)
    case bulkString(ByteBuffer)
    case null
    case array([RESPValue])

    /// The integer an integer reply carries; nil for any other reply.
    var integer: Int64? {
        if case .integer(let value) = self { return value }
        return nil
    }

    /// The text of a simple or bulk string reply; nil for any other reply.
    var string: String? {
        switch self {
        case .simpleString(let text): text
        case .bulkString(let bytes): String(buffer: bytes)
        default: nil
        }
    }
}
