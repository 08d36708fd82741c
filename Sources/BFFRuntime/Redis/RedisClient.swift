import BFFSpec
import Logging
import NIOCore
import Synchronization

/// A small pool of pipelined Redis connections, opened on first use.
///
/// Commands are spread round-robin over `poolSize` connections, each of which carries many
/// commands at once. A closed connection is replaced on its next use; after a failed connect the
/// client fails fast for `reconnectBackoff`, so a dead Redis costs one connect attempt per
/// back-off rather than one per request.
///
/// ```swift
/// let client = RedisClient(configuration: .init(url: RedisURL(host: "127.0.0.1")), group: group, logger: logger)
/// let pong = try await client.send(["PING"])
/// await client.shutdown()
/// ```
final class RedisClient: Sendable {
    struct Configuration: Sendable {
        var host: String
        var port: Int
        var database: Int
        /// Sent with AUTH on every new connection; nil sends none.
        var password: String?
        var poolSize = 4
        /// Longest wait for a TCP connection.
        var connectTimeout: Duration = .milliseconds(500)
        /// Longest wait for one reply; past it the connection is closed.
        var commandTimeout: Duration = .milliseconds(500)
        /// How long after a failed connect commands fail without a new attempt.
        var reconnectBackoff: Duration = .seconds(1)
        var replyLimits = RESPReplyDecoder.Limits()

        init(url: RedisURL, password: String? = nil) {
            host = url.host
            port = url.port
            database = url.database
            self.password = password
        }

        /// This configuration with its connect and reply timeouts raised to `timeout` when that is
        /// longer: a caller willing to wait longer than the defaults is not cut short by the client.
        func allowing(_ timeout: Duration) -> Configuration {
            var configuration = self
            configuration.connectTimeout = max(connectTimeout, timeout)
            configuration.commandTimeout = max(commandTimeout, timeout)
            return configuration
        }

        /// The spec's URL with the password from `BFF_REDIS_PASSWORD` in `environment`, if set.
        init(url: RedisURL, environment: [String: String]) {
            self.init(url: url, password: environment["BFF_REDIS_PASSWORD"].flatMap { $0.isEmpty ? nil : $0 })
        }

        /// `host:port/db`, for messages (never the password).
        var endpoint: String { RedisURL(host: host, port: port, database: database).description }
    }

    private enum Slot {
        case empty
        case connecting(EventLoopFuture<RedisConnection>)
        case ready(RedisConnection)
    }

    private struct State {
        var slots: [Slot]
        var next = 0
        /// Until when new connects are not tried, and why.
        var backoffUntil = NIODeadline.distantPast
        var lastConnectError: RedisError?
        var isShutDown = false
    }

    private enum Lease {
        case ready(RedisConnection)
        case connecting(EventLoopFuture<RedisConnection>, started: Int?)
        case refused(RedisError)
    }

    let configuration: Configuration
    private let group: any EventLoopGroup
    private let logger: Logger
    private let state: Mutex<State>

    init(configuration: Configuration, group: any EventLoopGroup, logger: Logger) {
        self.configuration = configuration
        self.group = group
        self.logger = logger
        state = Mutex(State(slots: Array(repeating: .empty, count: max(1, configuration.poolSize))))
    }

    /// Sends one command on a pooled connection and returns its reply; an error reply throws
    /// `RedisError.server`.
    func send(_ command: RedisCommand) async throws(RedisError) -> RESPValue {
        try await connection().send(command).redisValue()
    }

    /// Closes every connection; commands sent afterwards fail with `RedisError.closed`.
    func shutdown() async {
        let (connections, connecting) = state.withLock { state -> ([RedisConnection], [EventLoopFuture<RedisConnection>]) in
            state.isShutDown = true
            var connections: [RedisConnection] = []
            var connecting: [EventLoopFuture<RedisConnection>] = []
            for slot in state.slots {
                switch slot {
                case .ready(let connection): connections.append(connection)
                case .connecting(let future): connecting.append(future)
                case .empty: break
                }
            }
            state.slots = state.slots.map { _ in .empty }
            return (connections, connecting)
        }
        for connection in connections { try? await connection.close().get() }
        for future in connecting {
            if let connection = try? await future.get() { try? await connection.close().get() }
        }
    }

    // MARK: Pool

    private func connection() async throws(RedisError) -> RedisConnection {
        let lease = state.withLock { state -> Lease in
            guard !state.isShutDown else { return .refused(.closed(reason: "the Redis client was shut down")) }
            let index = state.next
            state.next = (index + 1) % state.slots.count
            switch state.slots[index] {
            case .ready(let connection) where connection.isActive:
                return .ready(connection)
            case .connecting(let future):
                return .connecting(future, started: nil)
            case .ready, .empty:
                if let error = state.lastConnectError, NIODeadline.now() < state.backoffUntil {
                    return .refused(error)
                }
                let future = RedisConnection.connect(configuration, group: group)
                state.slots[index] = .connecting(future)
                return .connecting(future, started: index)
            }
        }
        switch lease {
        case .ready(let connection):
            return connection
        case .refused(let error):
            throw error
        case .connecting(let future, let started):
            if let started {
                future.whenComplete { result in self.connectFinished(slot: started, future: future, result: result) }
            }
            return try await future.redisValue()
        }
    }

    private func connectFinished(slot: Int, future: EventLoopFuture<RedisConnection>, result: Result<RedisConnection, any Error>) {
        let orphan = state.withLock { state -> RedisConnection? in
            guard case .connecting(let current) = state.slots[slot], current === future else {
                return try? result.get()
            }
            switch result {
            case .success(let connection):
                state.slots[slot] = .ready(connection)
                state.lastConnectError = nil
                return nil
            case .failure(let error):
                state.slots[slot] = .empty
                state.lastConnectError = error as? RedisError ?? .connectFailed(endpoint: configuration.endpoint, reason: "\(error)")
                state.backoffUntil = NIODeadline.now() + .nanoseconds(configuration.reconnectBackoff.nanosecondsValue)
                return nil
            }
        }
        if let orphan {
            // Opened after a shutdown took the slot away: nobody will use it.
            _ = orphan.close()
        } else if case .failure(let error) = result {
            logger.debug("Redis connect failed", metadata: ["redis": "\(configuration.endpoint)", "error": "\(error)"])
        }
    }
}
