import BFFSpec
public import NIOCore
import NIOHTTP1

/// Sends requests to services over keep-alive HTTP/1.1 connections pooled per event loop.
///
/// A call runs on the event loop of the client connection that caused it, so a fan-out makes no
/// thread hops; redirects are never followed, connects have their own timeout, bodies are capped.
///
/// ```swift
/// let response = try await transport.send(request, to: users, deadline: .now() + .milliseconds(300), on: eventLoop)
/// ```
public final class UpstreamTransport: Sendable {
    /// Per event loop, connections for buffered calls, on the gateway's own codec.
    private let bufferedPools: [ObjectIdentifier: UpstreamPool<BufferedConnectionHandler>]
    /// Per event loop, connections for proxied calls (streamed bodies, read backpressure).
    private let streamingPools: [ObjectIdentifier: UpstreamPool<UpstreamConnectionHandler>]
    private let group: any EventLoopGroup
    let tls: TLSUpstream
    /// HTTP/2 connections to gRPC services.
    let grpc = GRPCClient()
    /// Plain-HTTP upstream connections open right now, pooled or busy.
    let connections = ConnectionTally()

    /// Creates one pool per event loop of `group`, and TLS clients for the https services among `services`.
    /// - Throws: when an https service's `ca_file` is not a readable PEM file.
    public init(group: any EventLoopGroup, services: some Sequence<ServiceEndpoint> = [], maxIdlePerDestination: Int = 256) throws {
        self.group = group
        self.tls = try TLSUpstream(group: group, services: services)
        var bufferedPools: [ObjectIdentifier: UpstreamPool<BufferedConnectionHandler>] = [:]
        var streamingPools: [ObjectIdentifier: UpstreamPool<UpstreamConnectionHandler>] = [:]
        for eventLoop in group.makeIterator() {
            bufferedPools[ObjectIdentifier(eventLoop)] = UpstreamPool(eventLoop: eventLoop, maxIdlePerDestination: maxIdlePerDestination, tally: connections)
            streamingPools[ObjectIdentifier(eventLoop)] = UpstreamPool(eventLoop: eventLoop, maxIdlePerDestination: maxIdlePerDestination, tally: connections)
        }
        self.bufferedPools = bufferedPools
        self.streamingPools = streamingPools
    }

    /// Whether this transport can call each of `services` (it has a TLS client for every https one).
    func covers(_ services: some Sequence<ServiceEndpoint>) -> Bool {
        tls.covers(services)
    }

    /// The loop calls for a request on `eventLoop` should run on: that loop when it is one of ours.
    public func eventLoop(preferring eventLoop: (any EventLoop)?) -> any EventLoop {
        if let eventLoop, bufferedPools[ObjectIdentifier(eventLoop)] != nil { return eventLoop }
        return group.next()
    }

    /// Sends `request` and buffers the whole response, failing with ``UpstreamError``.
    ///
    /// Cancelling the calling task fails the call at once and closes its connection, so the
    /// service sees the request abandoned.
    public func send(
        _ request: UpstreamRequest,
        to service: ServiceEndpoint,
        deadline: NIODeadline,
        on preferredLoop: (any EventLoop)?
    ) async throws(UpstreamError) -> UpstreamResponse {
        if let call = request.grpc {
            return try await grpc.send(call, headers: request.allHeaders, to: service, deadline: deadline, on: eventLoop(preferring: preferredLoop))
        }
        if service.isTLS { return try await tls.send(request, to: service, deadline: deadline) }
        let eventLoop = eventLoop(preferring: preferredLoop)
        let result: Result<UpstreamResponse, UpstreamError> = await eventLoop.awaitWork { completion in
            self.start(request, to: service, deadline: deadline, on: eventLoop, completion: completion)
        }
        return try result.get()
    }

    /// Sends `request` from `eventLoop` (a loop of this transport's group; the caller is on it) and
    /// calls `completion` on that loop exactly once. Plain-HTTP services only.
    ///
    /// - Returns: the exchange, whose ``BufferedExchange/fail(_:)`` abandons the call.
    @discardableResult
    func start(
        _ request: UpstreamRequest,
        to service: ServiceEndpoint,
        deadline: NIODeadline,
        on eventLoop: any EventLoop,
        completion: @escaping (Result<UpstreamResponse, UpstreamError>) -> Void
    ) -> BufferedExchange {
        let budget = Duration.nanoseconds(max(0, (deadline - .now()).nanoseconds))
        let exchange = BufferedExchange(service: service.name, limit: service.maxBodyBytes, completion: completion)
        start(exchange, request: request, service: service, deadline: deadline, budget: budget, on: eventLoop)
        return exchange
    }

    private func start(
        _ exchange: BufferedExchange,
        request: UpstreamRequest,
        service: ServiceEndpoint,
        deadline: NIODeadline,
        budget: Duration,
        on eventLoop: any EventLoop
    ) {
        guard !exchange.isFinished else { return }
        let pool = bufferedPool(on: eventLoop)
        exchange.arm(deadline: deadline, budget: budget, in: pool.deadlines)
        if let connection = pool.idleConnection(to: service) {
            exchange.connection = connection
            connection.start(exchange, request: request, service: service)
            return
        }
        let connectDeadline = min(deadline, .now() + .nanoseconds(service.connectTimeout.nanosecondsValue))
        pool.connect(service, connectDeadline: connectDeadline).assumeIsolated().whenComplete { result in
            switch result {
            case .success(let connection):
                guard !exchange.isFinished else {
                    connection.channel?.close(promise: nil)
                    return
                }
                exchange.connection = connection
                connection.start(exchange, request: request, service: service)
            case .failure:
                exchange.fail(.connectFailed(service: service.name))
            }
        }
    }

    /// Whether calls to `service` can be started from a loop with ``start(_:to:deadline:on:completion:)``.
    func startsOnLoop(_ service: ServiceEndpoint) -> Bool { !service.isTLS }

    /// The pool of buffered-call connections of `eventLoop`; only call on that loop.
    func bufferedPool(on eventLoop: any EventLoop) -> UpstreamPool<BufferedConnectionHandler> {
        eventLoop.preconditionInEventLoop()
        return bufferedPools[ObjectIdentifier(eventLoop)]!
    }

    /// The pool of proxied-call connections of `eventLoop`; only call on that loop.
    func streamingPool(on eventLoop: any EventLoop) -> UpstreamPool<UpstreamConnectionHandler> {
        eventLoop.preconditionInEventLoop()
        return streamingPools[ObjectIdentifier(eventLoop)]!
    }

    /// Closes every pooled connection; calls made afterwards fail to connect.
    public func shutdown() async {
        await grpc.shutdown()
        for (loop, buffered) in bufferedPools {
            let streaming = streamingPools[loop]!
            try? await buffered.eventLoop.submit {
                buffered.close()
                streaming.close()
            }.get()
        }
        await tls.shutdown()
    }
}
