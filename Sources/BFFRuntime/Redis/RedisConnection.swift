import BFFSpec
import NIOCore
import NIOPosix

/// One TCP connection to Redis, authenticated and on its database, ready for commands.
struct RedisConnection: Sendable {
    let channel: any Channel

    /// False once the connection closed; the pool then replaces it.
    var isActive: Bool { channel.isActive }

    /// Sends `command`; the future fails with a `RedisError` (an error reply is `.server`).
    func send(_ command: RedisCommand) -> EventLoopFuture<RESPValue> {
        let promise = channel.eventLoop.makePromise(of: RESPValue.self)
        let written = channel.eventLoop.makePromise(of: Void.self)
        // A write to a channel that already closed never reaches the command handler.
        written.futureResult.whenFailure { error in
            promise.fail(error as? RedisError ?? RedisError.closed(reason: "\(error)"))
        }
        channel.writeAndFlush(RedisRequest(command: command, promise: promise), promise: written)
        return promise.futureResult
    }

    func close() -> EventLoopFuture<Void> {
        channel.close().recover { _ in }
    }

    private static func setupCommands(_ configuration: RedisClient.Configuration) -> [RedisCommand] {
        var setup: [RedisCommand] = []
        if let password = configuration.password { setup.append(["AUTH", password]) }
        if configuration.database != 0 { setup.append(["SELECT", String(configuration.database)]) }
        return setup
    }

    /// Connects, then sends AUTH (when there is a password) and SELECT (for a database other
    /// than 0). Fails with `RedisError.connectFailed`, closing whatever was opened.
    static func connect(_ configuration: RedisClient.Configuration, group: any EventLoopGroup) -> EventLoopFuture<RedisConnection> {
        let endpoint = configuration.endpoint
        let limits = configuration.replyLimits
        let commandTimeout = configuration.commandTimeout
        return ClientBootstrap(group: group)
            .connectTimeout(.nanoseconds(configuration.connectTimeout.nanosecondsValue))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers([
                        ByteToMessageHandler(RESPReplyDecoder(limits: limits)),
                        MessageToByteHandler(RESPCommandEncoder()),
                        RedisCommandHandler(commandTimeout: commandTimeout),
                    ])
                }
            }
            .connect(host: configuration.host, port: configuration.port)
            .flatMapErrorThrowing { error in
                throw RedisError.connectFailed(endpoint: endpoint, reason: "\(error)")
            }
            .flatMap { channel in
                let connection = RedisConnection(channel: channel)
                let setup = Self.setupCommands(configuration)
                let replies = setup.map { connection.send($0) }
                return EventLoopFuture.andAllSucceed(replies, on: channel.eventLoop)
                    .map { connection }
                    .flatMapError { error in
                        let steps = setup.map(\.name).joined(separator: ", ")
                        return connection.close().flatMapThrowing {
                            throw RedisError.connectFailed(endpoint: endpoint, reason: "\(error) (in \(steps))")
                        }
                    }
            }
    }
}
