import BFFSpec
import Foundation
import Logging
import NIOCore
import NIOPosix
import Synchronization

@testable import BFFRuntime

/// A real `redis-server` on a free loopback port, without persistence, for one test.
///
/// ```swift
/// try await RedisServer.with { server in
///     let client = server.client()
///     ...
/// }
/// ```
final class RedisServer: Sendable {
    static let executable = "/usr/bin/redis-server"

    let port: Int
    private let arguments: [String]
    private let process: Mutex<ChildProcess?>

    var url: RedisURL { RedisURL(host: "127.0.0.1", port: port) }

    private init(port: Int, arguments: [String]) {
        self.port = port
        self.arguments = arguments
        process = Mutex(nil)
    }

    /// Runs `body` with a started server and stops the server afterwards, whatever happens.
    ///
    /// - Parameter arguments: extra `redis-server` options (`["--requirepass", "secret"]`).
    static func with<T>(arguments: [String] = [], _ body: (RedisServer) async throws -> T) async throws -> T {
        let server = try await started(arguments: arguments)
        defer { server.kill() }
        return try await body(server)
    }

    /// A started server; a port some other process took between choosing it and binding it is
    /// replaced by another (tests start many servers at once).
    private static func started(arguments: [String]) async throws -> RedisServer {
        var attempt = 1
        while true {
            let server = RedisServer(port: try await freePort(), arguments: arguments)
            do {
                try await server.start()
                return server
            } catch RedisServerError.exited where attempt < 5 {
                server.kill()
                attempt += 1
            }
        }
    }

    /// Starts (or restarts) the server on its port and waits until it answers PING.
    func start() async throws {
        let process = try ChildProcess(
            executable: Self.executable,
            arguments: [
                "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                "--daemonize", "no", "--loglevel", "warning",
            ] + arguments,
            standardOutput: .discarded,
            standardError: .discarded
        )
        self.process.withLock { $0 = process }
        try await waitUntilAnswering()
    }

    /// Kills the server at once (SIGKILL, like a crash) and waits for it to exit.
    func kill() {
        guard let process = process.withLock({ current in defer { current = nil }; return current }) else { return }
        process.kill()
    }

    /// A client for this server; tests shut it down.
    func client(
        database: Int = 0,
        password: String? = nil,
        configure: (inout RedisClient.Configuration) -> Void = { _ in }
    ) -> RedisClient {
        var configuration = RedisClient.Configuration(url: RedisURL(host: "127.0.0.1", port: port, database: database), password: password)
        configure(&configuration)
        return RedisClient(configuration: configuration, group: MultiThreadedEventLoopGroup.singleton, logger: Logger(label: "test.redis"))
    }

    private func waitUntilAnswering() async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while true {
            // It exits at once when its port is taken.
            guard process.withLock({ $0?.isRunning ?? false }) else { throw RedisServerError.exited(port: port) }
            let probe = client { $0.reconnectBackoff = .zero }
            let answer: Result<RESPValue, RedisError>
            do {
                answer = .success(try await probe.send(["PING"]))
            } catch {
                answer = .failure(error)
            }
            await probe.shutdown()
            switch answer {
            case .success, .failure(.server):
                // A server error (NOAUTH on a password-protected server) is an answer too.
                return
            case .failure(let error):
                guard ContinuousClock.now < deadline else {
                    throw RedisServerError.notAnswering(port: port, lastError: error)
                }
                try await Task.sleep(for: .milliseconds(20))
            }
        }
    }

    /// A loopback port nobody listens on right now.
    private static func freePort() async throws -> Int {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 0).get()
        let port = channel.localAddress?.port
        try await channel.close()
        guard let port else { throw RedisServerError.noFreePort }
        return port
    }
}

enum RedisServerError: Error {
    case noFreePort
    case notAnswering(port: Int, lastError: RedisError)
    /// The server stopped before it answered (its port was taken).
    case exited(port: Int)
}
