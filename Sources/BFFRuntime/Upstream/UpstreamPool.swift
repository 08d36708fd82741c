import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// Open upstream connections across every pool of a transport, for the metrics.
final class ConnectionTally: Sendable {
    private let open = Atomic<Int>(0)
    var count: Int { open.load(ordering: .relaxed) }
    func opened() { open.wrappingAdd(1, ordering: .relaxed) }
    func closed() { open.wrappingSubtract(1, ordering: .relaxed) }
}

/// Keep-alive connections of one event loop, per destination.
///
/// Confined to its event loop: fan-out calls made from a request on that loop reuse its
/// connections without locks or thread hops. It is `@unchecked Sendable` only so NIO callbacks
/// that run on that same loop can hold it.
final class UpstreamPool: @unchecked Sendable {
    let eventLoop: any EventLoop
    private var idle: [ServiceEndpoint.PoolKey: [UpstreamConnectionHandler]] = [:]
    private var closed = false
    /// Idle connections kept per destination on this loop; more are closed when released.
    let maxIdlePerDestination: Int
    private let tally: ConnectionTally

    init(eventLoop: any EventLoop, maxIdlePerDestination: Int, tally: ConnectionTally) {
        self.eventLoop = eventLoop
        self.maxIdlePerDestination = maxIdlePerDestination
        self.tally = tally
    }

    /// An idle connection to `service`, or a new one once connected.
    func acquire(_ service: ServiceEndpoint, connectDeadline: NIODeadline) -> EventLoopFuture<UpstreamConnectionHandler> {
        if let handler = idleConnection(to: service) { return eventLoop.makeSucceededFuture(handler) }
        return connect(service, connectDeadline: connectDeadline)
    }

    /// An idle keep-alive connection to `service`, if the pool has one.
    func idleConnection(to service: ServiceEndpoint) -> UpstreamConnectionHandler? {
        let key = service.poolKey
        while let handler = idle[key]?.popLast() {
            if handler.isIdle { return handler }
        }
        return nil
    }

    /// A new connection to `service`.
    func connect(_ service: ServiceEndpoint, connectDeadline: NIODeadline) -> EventLoopFuture<UpstreamConnectionHandler> {
        let key = service.poolKey
        guard !closed else { return eventLoop.makeFailedFuture(UpstreamError.connectFailed(service: service.name)) }
        let timeout = TimeAmount.nanoseconds(max(1_000_000, (connectDeadline - .now()).nanoseconds))
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(timeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    // Outbound header validation is off: every header we send is either built from the
                    // spec, or a template value already refused if it holds control characters, or a
                    // client header NIO's parser accepted.
                    try channel.pipeline.syncOperations.addHTTPClientHandlers(
                        leftOverBytesStrategy: .fireError,
                        enableOutboundHeaderValidation: false
                    )
                    let handler = UpstreamConnectionHandler(
                        onReusable: { [weak self] in self?.release($0, key: key) },
                        onClosed: { [weak self] in self?.forget($0, key: key) }
                    )
                    try channel.pipeline.syncOperations.addHandler(handler)
                }
            }
        let connected = service.address.map { bootstrap.connect(to: $0) } ?? bootstrap.connect(host: service.host, port: service.port)
        return connected.flatMapThrowing { [tally] channel in
            let handler = try channel.pipeline.syncOperations.handler(type: UpstreamConnectionHandler.self)
            tally.opened()
            return handler
        }.flatMapErrorThrowing { _ in
            throw UpstreamError.connectFailed(service: service.name)
        }
    }

    private func release(_ handler: UpstreamConnectionHandler, key: ServiceEndpoint.PoolKey) {
        guard !closed, idle[key, default: []].count < maxIdlePerDestination else {
            handler.channel?.close(promise: nil)
            return
        }
        idle[key, default: []].append(handler)
    }

    private func forget(_ handler: UpstreamConnectionHandler, key: ServiceEndpoint.PoolKey) {
        tally.closed()
        idle[key]?.removeAll { $0 === handler }
    }

    /// Closes every idle connection and refuses new ones.
    func close() {
        closed = true
        for handlers in idle.values {
            for handler in handlers { handler.channel?.close(promise: nil) }
        }
        idle.removeAll()
    }
}
