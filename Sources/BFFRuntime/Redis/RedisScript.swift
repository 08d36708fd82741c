import Crypto
import NIOCore

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
        try await run(script, keys: keys.map { ByteBuffer(string: $0) }, arguments: arguments.map { ByteBuffer(string: $0) })
    }

    /// Runs `script` with binary keys or arguments (a cached body).
    func run(_ script: RedisScript, keys: [ByteBuffer], arguments: [ByteBuffer]) async throws(RedisError) -> RESPValue {
        let tail = [ByteBuffer(string: String(keys.count))] + keys + arguments
        do throws(RedisError) {
            return try await send(RedisCommand(bytes: [ByteBuffer(string: "EVALSHA"), ByteBuffer(string: script.sha1)] + tail))
        } catch .server(let message) where message.hasPrefix("NOSCRIPT") {
            return try await send(RedisCommand(bytes: [ByteBuffer(string: "EVAL"), ByteBuffer(string: script.source)] + tail))
        }
    }
}
