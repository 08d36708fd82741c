import Crypto

/// A Lua script run by its SHA-1 (`EVALSHA`), so its text crosses the wire only when Redis has
/// not cached it yet (after a restart or `SCRIPT FLUSH`).
struct RedisScript: Sendable {
    let source: String
    let sha1: String

    init(_ source: String) {
        self.source = source
        sha1 = Insecure.SHA1.hash(data: Array(source.utf8)).map { byte in
            (byte < 16 ? "0" : "") + String(byte, radix: 16)
        }.joined()
    }
}

extension RedisClient {
    /// Runs `script` with `EVALSHA`, falling back to `EVAL` (which also caches it) on NOSCRIPT.
    func run(_ script: RedisScript, keys: [String], arguments: [String]) async throws(RedisError) -> RESPValue {
        let tail = [String(keys.count)] + keys + arguments
        do throws(RedisError) {
            return try await send(RedisCommand(["EVALSHA", script.sha1] + tail))
        } catch .server(let message) where message.hasPrefix("NOSCRIPT") {
            return try await send(RedisCommand(["EVAL", script.source] + tail))
        }
    }
}
