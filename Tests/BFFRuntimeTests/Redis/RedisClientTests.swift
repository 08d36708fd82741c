import NIOCore
import Testing

@testable import BFFRuntime

/// The RESP client against a real redis-server: pipelining, AUTH and SELECT, scripts, timeouts,
/// oversize replies, back-off after failed connects and shutdown.
@Suite("Redis: client against redis-server", .timeLimit(.minutes(1)))
struct RedisClientTests {
    @Test("commands answer in order on a shared pool, 200 at once")
    func pipelined() async throws {
        try await RedisServer.with { server in
            let client = server.client { $0.poolSize = 2 }
            #expect(try await client.send(["PING"]) == .simpleString("PONG"))
            let results = try await withThrowingTaskGroup(of: (Int, String?).self) { group in
                for index in 0..<200 {
                    group.addTask {
                        _ = try await client.send(["SET", "k\(index)", "v\(index)"])
                        return (index, try await client.send(["GET", "k\(index)"]).string)
                    }
                }
                return try await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
            }
            #expect(results.count == 200 && results.allSatisfy { $0.value == "v\($0.key)" })
            #expect(try await client.send(["GET", "missing"]) == .null)
            await client.shutdown()
        }
    }

    @Test("an error reply is a typed server error and the connection stays usable")
    func serverError() async throws {
        try await RedisServer.with { server in
            let client = server.client { $0.poolSize = 1 }
            _ = try await client.send(["SET", "text", "x"])
            await #expect(throws: RedisError.server(message: "ERR value is not an integer or out of range")) {
                try await client.send(["INCR", "text"])
            }
            #expect(try await client.send(["INCR", "n"]) == .integer(1))
            await client.shutdown()
        }
    }

    @Test("AUTH with the password and SELECT of the database happen on connect; a wrong password fails to connect")
    func authAndSelect() async throws {
        try await RedisServer.with(arguments: ["--requirepass", "s3cret"]) { server in
            let three = server.client(database: 3, password: "s3cret")
            let zero = server.client(password: "s3cret")
            _ = try await three.send(["SET", "where", "db3"])
            #expect(try await three.send(["GET", "where"]).string == "db3")
            #expect(try await zero.send(["GET", "where"]) == .null)
            let wrong = server.client(password: "guess")
            do throws(RedisError) {
                _ = try await wrong.send(["PING"])
                Issue.record("a wrong password must not connect")
            } catch {
                guard case .connectFailed(_, let reason) = error else { throw error }
                #expect(reason.contains("AUTH") && !reason.contains("guess"))
            }
            for client in [three, zero, wrong] { await client.shutdown() }
        }
    }

    @Test("EVALSHA falls back to EVAL when Redis has no copy of the script")
    func scriptFallback() async throws {
        try await RedisServer.with { server in
            let client = server.client()
            let script = RedisScript("return tonumber(ARGV[1]) + 1")
            #expect(try await client.run(script, keys: [], arguments: ["41"]) == .integer(42))
            #expect(try await client.send(["SCRIPT", "EXISTS", script.sha1]) == .array([.integer(1)]))
            _ = try await client.send(["SCRIPT", "FLUSH"])
            #expect(try await client.run(script, keys: [], arguments: ["1"]) == .integer(2))
            await client.shutdown()
        }
    }

    @Test("a reply slower than the command timeout fails with .timeout and the connection is replaced")
    func commandTimeout() async throws {
        try await RedisServer.with { server in
            let client = server.client {
                $0.poolSize = 1
                $0.commandTimeout = .milliseconds(100)
            }
            await #expect(throws: RedisError.timeout(command: "BLPOP", after: .milliseconds(100))) {
                try await client.send(["BLPOP", "never", "30"])
            }
            let pong = try await client.send(["PING"])
            #expect(pong == .simpleString("PONG"))
            await client.shutdown()
        }
    }

    @Test("a reply over the size limit is a protocol error, and the next command gets a fresh connection")
    func oversizeReply() async throws {
        try await RedisServer.with { server in
            let client = server.client {
                $0.poolSize = 1
                $0.replyLimits.bulkBytes = 1024
            }
            _ = try await client.send(["SET", "big", String(repeating: "x", count: 4096)])
            do throws(RedisError) {
                _ = try await client.send(["GET", "big"])
                Issue.record("an oversize reply must be refused")
            } catch {
                guard case .protocolError = error else { throw error }
            }
            #expect(try await client.send(["STRLEN", "big"]) == .integer(4096))
            await client.shutdown()
        }
    }

    @Test("after a failed connect the client fails fast for its back-off instead of trying per command")
    func connectBackoff() async throws {
        try await RedisServer.with { server in
            let client = server.client {
                $0.poolSize = 1
                $0.reconnectBackoff = .seconds(3600)
            }
            #expect(try await client.send(["PING"]) == .simpleString("PONG"))
            server.kill()
            await #expect(throws: RedisError.self) { try await client.send(["PING"]) }
            await #expect(throws: RedisError.self) { try await client.send(["PING"]) }
            try await server.start()
            do throws(RedisError) {
                _ = try await client.send(["PING"])
                Issue.record("within the back-off the client must not connect again")
            } catch {
                guard case .connectFailed = error else { throw error }
            }
            let fresh = server.client()
            #expect(try await fresh.send(["PING"]) == .simpleString("PONG"))
            for client in [client, fresh] { await client.shutdown() }
        }
    }

    @Test("after shutdown commands fail with .closed")
    func shutdown() async throws {
        try await RedisServer.with { server in
            let client = server.client()
            _ = try await client.send(["PING"])
            await client.shutdown()
            await #expect(throws: RedisError.closed(reason: "the Redis client was shut down")) {
                try await client.send(["PING"])
            }
        }
    }
}
