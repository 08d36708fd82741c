import NIOCore
import NIOPosix
import Synchronization

/// Open upstream connections across every pool of a transport, for the metrics.
final class ConnectionTally: Sendable {
    private let open = Atomic<Int>(0)
    var count: Int { open.load(ordering: .relaxed) }
    func opened() { open.wrappingAdd(1, ordering: .relaxed) }
    func closed() { open.wrappingSubtract(1, ordering: .relaxed) }
}

/// The handler that ends a pooled connection's pipeline: what the pool needs to lend it out,
/// take it back and build new ones.
protocol PooledConnection: ChannelHandler, Sendable {
    /// Adds the codec this kind of connection speaks to a new channel, then a handler of this kind.
    static func install(on pipeline: ChannelPipeline.SynchronousOperations, onReusable: @escaping (Self) -> Void, onClosed: @escaping (Self) -> Void) throws
    /// Whether it carries no exchange and its channel is open.
    var isIdle: Bool { get }
    var channel: (any Channel)? { get }
}

/// Keep-alive connections of one kind (``BufferedConnectionHandler`` for buffered calls,
/// ``UpstreamConnectionHandler`` for proxied ones) on one event loop, per destination.
///
/// The two kinds read their answers differently (gathered whole, or streamed) on the same socket
/// type, so each has a pool of its own and one is never handed the other. Confined to its event loop: fan-out calls made from a
/// request on that loop reuse its connections without locks or thread hops. It is
/// `@unchecked Sendable` only so NIO callbacks that run on that same loop can hold it.
final class UpstreamPool<Connection: PooledConnection>: @unchecked Sendable {
    let eventLoop: any EventLoop
    /// Idle connections per destination. Each list is an object, so taking and returning a
    /// connection reads the dictionary instead of modifying it (a `Dictionary` modify accessor
    /// allocates its coroutine frame; this runs for every call).
    private var idle: [ServiceEndpoint.PoolKey: IdleConnections] = [:]
    private final class IdleConnections {
        var connections: [Connection] = []
    }
    private var closed = false
    /// Idle connections kept per destination on this loop; more are closed when released.
    let maxIdlePerDestination: Int
    private let tally: ConnectionTally
    /// The deadlines of the calls made on this loop's connections.
    let deadlines: LoopDeadlines

    init(eventLoop: any EventLoop, maxIdlePerDestination: Int, tally: ConnectionTally) {
        self.eventLoop = eventLoop
        deadlines = LoopDeadlines(eventLoop: eventLoop)
        self.maxIdlePerDestination = maxIdlePerDestination
        self.tally = tally
    }

    /// An idle connection to `service`, or a new one once connected.
    func acquire(_ service: ServiceEndpoint, connectDeadline: NIODeadline) -> EventLoopFuture<Connection> {
        if let handler = idleConnection(to: service) { return eventLoop.makeSucceededFuture(handler) }
        return connect(service, connectDeadline: connectDeadline)
    }

    /// An idle keep-alive connection to `service`, if the pool has one.
    func idleConnection(to service: ServiceEndpoint) -> Connection? {
        guard let list = idle[service.poolKey] else { return nil }
        while let handler = list.connections.popLast() {
            if handler.isIdle { return handler }
        }
        return nil
    }

    /// A new connection to `service`.
    func connect(_ service: ServiceEndpoint, connectDeadline: NIODeadline) -> EventLoopFuture<Connection> {
        let key = service.poolKey
        guard !closed else { return eventLoop.makeFailedFuture(UpstreamError.connectFailed(service: service.name)) }
        let timeout = TimeAmount.nanoseconds(max(1_000_000, (connectDeadline - .now()).nanoseconds))
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(timeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    try Connection.install(
                        on: channel.pipeline.syncOperations,
                        onReusable: { [weak self] in self?.release($0, key: key) },
                        onClosed: { [weak self] in self?.forget($0, key: key) }
                    )
                }
            }
        let connected = service.address.map { bootstrap.connect(to: $0) } ?? bootstrap.connect(host: service.host, port: service.port)
        return connected.flatMapThrowing { [tally] channel in
            let handler = try channel.pipeline.syncOperations.handler(type: Connection.self)
            tally.opened()
            return handler
        }.flatMapErrorThrowing { _ in
            throw UpstreamError.connectFailed(service: service.name)
        }
    }

    private func release(_ handler: Connection, key: ServiceEndpoint.PoolKey) {
        let list: IdleConnections
        if let existing = idle[key] {
            list = existing
        } else {
            list = IdleConnections()
            idle[key] = list
        }
        guard !closed, list.connections.count < maxIdlePerDestination else {
            handler.channel?.close(promise: nil)
            return
        }
        list.connections.append(handler)
    }

    private func forget(_ handler: Connection, key: ServiceEndpoint.PoolKey) {
        tally.closed()
        idle[key]?.connections.removeAll { $0 === handler }
    }

    /// Closes every idle connection and refuses new ones.
    func close() {
        closed = true
        deadlines.close()
        for list in idle.values {
            for handler in list.connections { handler.channel?.close(promise: nil) }
        }
        idle.removeAll()
    }
}
