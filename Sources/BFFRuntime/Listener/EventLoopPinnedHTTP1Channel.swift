import HummingbirdCore
import Logging
import NIOCore
import NIOHTTPTypesHTTP1

/// Hummingbird's HTTP/1 child channel, with each connection's task pinned to its event loop,
/// ``RequestHeadGuard`` in front of the HTTP decoder (handing plain GETs it decoded itself straight
/// to the HTTPTypes side) and, when given the server's generations, a ``FastAggregationHandler``
/// (answering the aggregation routes of the generation serving) in front of Hummingbird's request
/// handling.
struct EventLoopPinnedHTTP1Channel: ServerChildChannel {
    typealias Value = HTTP1Channel.Value

    let inner: HTTP1Channel
    let executors: [ObjectIdentifier: EventLoopExecutor]
    let ingress: IngressPolicy
    let connections: ConnectionBudget
    let fastAggregations: GenerationSlot?

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        do {
            let headGuard = RequestHeadGuard(policy: ingress, connections: connections, logger: logger)
            // Last so far: after the TLS handler on a TLS connection, first on a plaintext one.
            try channel.pipeline.syncOperations.addHandler(headGuard, position: .last)
        } catch {
            return channel.eventLoop.makeFailedFuture(error)
        }
        return inner.setup(channel: channel, logger: logger).flatMapThrowing { value in
            let operations = channel.pipeline.syncOperations
            let headGuard = try operations.handler(type: RequestHeadGuard.self)
            headGuard.decodedRequests = try operations.context(handlerType: HTTP1ToHTTPServerCodec.self)
            guard let fastAggregations else { return value }
            let connectionState = try operations.handler(type: HTTPConnectionStateHandler.self)
            let sanitizer = try operations.handler(type: IngressHeaderSanitizer.self)
            try operations.addHandler(
                FastAggregationHandler(
                    routes: fastAggregations, headGuard: headGuard, sanitizer: sanitizer,
                    tls: TLSConnectionState.established(on: channel)
                ),
                position: .after(connectionState)
            )
            return value
        }
    }

    func handle(value: Value, logger: Logger) async {
        guard let executor = executors[ObjectIdentifier(value.channel.eventLoop)] else {
            await inner.handle(value: value, logger: logger)
            return
        }
        await withTaskExecutorPreference(executor) {
            await inner.handle(value: value, logger: logger)
        }
    }
}
