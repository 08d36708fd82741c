import BFFSpec
import HTTPTypes
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP2
import NIOHTTPTypes
import NIOHTTPTypesHTTP2

/// HTTP/2 connections of the public listener: each stream is one request, decoded to the same
/// HTTPTypes parts as HTTP/1.1 and answered by the same responder, so routing, the middleware,
/// auth, limits, caching and problem answers behave the same on both.
///
/// Per connection: at most `max_concurrent_streams` streams, a header list no larger than the
/// request limits allow, a budget of stream resets (a client that opens and resets streams faster,
/// CVE-2023-44487, gets GOAWAY and is closed), the idle timeout, and on graceful shutdown a GOAWAY
/// that lets every open stream finish within the drain deadline.
struct HTTP2Ingress: Sendable {
    /// One HTTP/2 connection, set up and ready for its streams.
    struct Connection: Sendable {
        let streams: NIOHTTP2Handler.AsyncStreamMultiplexer<NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>>
        let channel: any Channel
    }

    let responder: HTTPChannelHandler.Responder
    let policy: IngressPolicy
    let spec: HTTP2Spec
    let drainTimeout: Duration
    let connections: ConnectionBudget
    let executors: [ObjectIdentifier: EventLoopExecutor]

    /// Sets `channel` up for HTTP/2 after the preface was seen or ALPN chose `h2`; on its event loop.
    func setup(channel: any Channel) throws -> Connection {
        let operations = channel.pipeline.syncOperations
        try operations.addHandler(ConnectionSlot(connections: connections))
        let tls = TLSConnectionState.established(on: channel)
        let streams = try operations.configureAsyncHTTP2Pipeline(
            mode: .server,
            connectionManagerConfiguration: .init(
                maxIdleTime: .nanoseconds(policy.idleTimeout.nanosecondsValue),
                maxAge: nil,
                maxGraceTime: .nanoseconds(drainTimeout.nanosecondsValue),
                keepalive: nil
            ),
            http2HandlerConfiguration: handlerConfiguration
        ) { [policy] stream in
            stream.eventLoop.makeCompletedFuture {
                let operations = stream.pipeline.syncOperations
                try operations.addHandler(HTTP2StreamStopper())
                try operations.addHandler(HTTP2FramePayloadToHTTPServerCodec())
                try operations.addHandler(HTTP2StreamGuard(policy: policy))
                try operations.addHandler(IngressHeaderSanitizer(policy: policy))
                if let tls { try operations.addHandler(TLSConnectionState(established: tls)) }
                return try NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>(wrappingChannelSynchronously: stream)
            }
        }
        try operations.addHandler(ConnectionErrorCloser())
        return Connection(streams: streams, channel: channel)
    }

    /// The NIOHTTP2 settings this listener's limits make.
    var handlerConfiguration: NIOHTTP2Handler.Configuration {
        var configuration = NIOHTTP2Handler.Configuration()
        // Above the limits ``HTTP2StreamGuard`` applies, so that a request just over them is answered
        // 431 or 414 rather than reset by the HPACK decoder.
        let headerList = max(64 * 1024, 2 * (policy.requestLineBytes + policy.headerBytes))
        configuration.connection.initialSettings = [
            HTTP2Setting(parameter: .maxConcurrentStreams, value: spec.maxConcurrentStreams),
            HTTP2Setting(parameter: .maxHeaderListSize, value: headerList),
        ]
        configuration.stream.streamResetFrameRateLimit.maximumCount = spec.maxResets
        configuration.stream.streamResetFrameRateLimit.windowLength = .nanoseconds(spec.resetWindow.nanosecondsValue)
        return configuration
    }

    /// Serves the connection's streams, each in a child task on the connection's event loop, until
    /// the connection closes.
    func handle(_ connection: Connection, logger: Logger) async {
        let stream = HTTP2StreamResponder(responder: responder)
        let executor = executors[ObjectIdentifier(connection.channel.eventLoop)]
        do {
            try await withThrowingDiscardingTaskGroup { group in
                for try await channel in connection.streams.inbound {
                    group.addTask(executorPreference: executor) {
                        await stream.handleHTTP(asyncChannel: channel, logger: logger)
                    }
                }
            }
        } catch {
            logger.debug("HTTP/2 connection ended", metadata: ["error": "\(error)"])
        }
    }
}

/// Answers one HTTP/2 stream's request with the server's responder, as Hummingbird's HTTP/1 loop does.
private struct HTTP2StreamResponder: HTTPChannelHandler {
    typealias Value = NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>

    let responder: Responder

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture { try Value(wrappingChannelSynchronously: channel) }
    }

    func handle(value: Value, logger: Logger) async {
        await handleHTTP(asyncChannel: value, logger: logger)
    }
}

/// Closes an HTTP/2 connection on a connection error (a protocol violation, or a DoS heuristic such
/// as too many resets), after NIOHTTP2 has sent its GOAWAY; NIOHTTP2 itself leaves it open.
private final class ConnectionErrorCloser: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTP2Frame

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

/// Holds a slot of the connection budget for an HTTP/2 connection while it is open; a connection
/// over the budget is closed before its first stream.
private final class ConnectionSlot: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    private let connections: ConnectionBudget
    private var admitted = false

    init(connections: ConnectionBudget) {
        self.connections = connections
    }

    func handlerAdded(context: ChannelHandlerContext) {
        admitted = connections.admit()
        if !admitted { context.close(promise: nil) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        release()
    }

    func channelInactive(context: ChannelHandlerContext) {
        release()
        context.fireChannelInactive()
    }

    private func release() {
        guard admitted else { return }
        admitted = false
        connections.release()
    }
}
