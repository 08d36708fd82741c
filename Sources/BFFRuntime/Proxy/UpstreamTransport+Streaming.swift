import BFFSpec
public import NIOCore
public import NIOHTTP1
import Synchronization

extension UpstreamTransport {
    /// Forwards a request with a streamed body and returns as soon as the response head arrives.
    ///
    /// Full duplex: the request body is uploaded by a task of its own while the response is read, so
    /// an upstream that answers while still reading (or answers early, e.g. 413) never deadlocks
    /// against our backpressure. Each upload write is awaited, so a slow upstream slows the client;
    /// the response body streams with backpressure. `headTimeout` starts once the request body is fully
    /// sent, so large uploads are not cut off by it. Throws ``UpstreamError``.
    ///
    /// The caller owns ``StreamedResponse/upload`` and must end it (``UploadHandle/finishUpload()``)
    /// before the client connection reads its next request.
    public func stream<Body: AsyncSequence & Sendable>(
        head: HTTPRequestHead,
        body: Body?,
        to service: ServiceEndpoint,
        headTimeout: Duration,
        on preferredLoop: (any EventLoop)?
    ) async throws -> StreamedResponse where Body.Element == ByteBuffer {
        if service.isTLS { return try await tls.stream(head: head, body: body, to: service, headTimeout: headTimeout) }
        let eventLoop = eventLoop(preferring: preferredLoop)
        let headPromise = eventLoop.makePromise(of: HTTPResponseHead.self)
        let exchange = StreamingExchange(headPromise: headPromise, service: service.name)
        let upload = UploadHandle()
        do {
            return try await withTaskCancellationHandler {
                let responseBody = try await eventLoop.submit { () throws -> UpstreamBodyStream in
                    exchange.makeBody(eventLoop: eventLoop)
                }.get()
                let connectDeadline = NIODeadline.now() + .nanoseconds(service.connectTimeout.nanosecondsValue)
                let connection = try await eventLoop.flatSubmit {
                    self.streamingPool(on: eventLoop).acquire(service, connectDeadline: connectDeadline)
                }.get()
                let declaredLength = head.headers.first(name: "content-length").flatMap(Int.init)
                try await eventLoop.submit {
                    exchange.connection = connection
                    // The service's host and base path, and the framing, are written with the head.
                    let request = UpstreamRequest(method: head.method, target: head.uri, headers: head.headers)
                    if body == nil {
                        connection.start(exchange, request: request, service: service)
                        exchange.armHeadTimeout(deadline: .now() + .nanoseconds(headTimeout.nanosecondsValue), budget: headTimeout, on: eventLoop)
                    } else {
                        connection.start(exchange, request: request, service: service, framing: declaredLength.map { .length($0) } ?? .chunked)
                    }
                }.get()
                if let body {
                    upload.start {
                        try await Self.upload(
                            body, declaredLength: declaredLength, over: connection, exchange: exchange, headTimeout: headTimeout, service: service,
                            on: eventLoop, handle: upload
                        )
                    } abort: {
                        eventLoop.execute { connection.abort(exchange) }
                    }
                }
                let responseHead = try await headPromise.futureResult.get()
                return StreamedResponse(head: responseHead, body: responseBody, upload: upload)
            } onCancel: {
                upload.cancel()
                eventLoop.execute { exchange.fail(.cancelled(service: service.name)) }
            }
        } catch let error as UpstreamError {
            await upload.finish()
            eventLoop.execute { exchange.fail(error) }
            throw error.attributed(to: service.name)
        } catch {
            await upload.finish()
            eventLoop.execute { exchange.fail(.connectionClosed(service: service.name)) }
            throw UpstreamError.connectionClosed(service: service.name)
        }
    }

    /// Writes the request body part by part, then the end, then starts the head timeout. Any
    /// failure fails the exchange, which closes the connection so a half-sent request is never reused.
    ///
    /// - Parameter declaredLength: the request's `Content-Length`; once that much is read, `handle`
    ///   is told the client has sent its whole body.
    private static func upload<Body: AsyncSequence & Sendable>(
        _ body: Body,
        declaredLength: Int?,
        over connection: UpstreamConnectionHandler,
        exchange: StreamingExchange,
        headTimeout: Duration,
        service: ServiceEndpoint,
        on eventLoop: any EventLoop,
        handle: UploadHandle
    ) async throws where Body.Element == ByteBuffer {
        let closed = UpstreamError.connectionClosed(service: service.name)
        var received = 0
        do {
            for try await chunk in body {
                received += chunk.readableBytes
                if let declaredLength, received >= declaredLength { handle.clientBodyReceived() }
                try await eventLoop.flatSubmit { connection.writeBody(chunk) ?? eventLoop.makeFailedFuture(closed) }.get()
            }
            handle.clientBodyReceived()
            try await eventLoop.flatSubmit { connection.writeEnd() ?? eventLoop.makeFailedFuture(closed) }.get()
            let deadline = NIODeadline.now() + .nanoseconds(headTimeout.nanosecondsValue)
            eventLoop.execute { exchange.armHeadTimeout(deadline: deadline, budget: headTimeout, on: eventLoop) }
        } catch {
            eventLoop.execute { exchange.fail(.connectionClosed(service: service.name)) }
            throw error
        }
    }
}

/// The upload of a proxied request body, owned by the proxy endpoint: a task of the transport's
/// own (plain HTTP), or a body lent to AsyncHTTPClient (https). Either way it is over, never left
/// reading the client's body past the request, once ``finishUpload()`` returns.
public final class UploadHandle: Sendable {
    private struct State {
        var task: Task<Void, any Error>?
        var abort: (@Sendable () -> Void)?
        /// Whether the client has sent its whole body (all of its `Content-Length`, or its end).
        var clientBodyReceived = false
    }

    private let state = Mutex(State())
    private let lease: BodyLease?

    /// - Parameter lease: the loan of the body to a library that uploads it; nil for an upload
    ///   this handle runs (``start(_:abort:)``).
    init(lease: BodyLease? = nil) {
        self.lease = lease
    }

    /// Starts `operation`; `abort` closes its connection when it must stop while a write is pending.
    func start(_ operation: @escaping @Sendable () async throws -> Void, abort: @escaping @Sendable () -> Void) {
        state.withLock { $0 = State(task: Task { try await operation() }, abort: abort) }
    }

    /// Notes that nothing but the end of the client's body is left to read.
    func clientBodyReceived() {
        state.withLock { $0.clientBodyReceived = true }
    }

    func cancel() {
        let (task, abort) = state.withLock { ($0.task, $0.abort) }
        task?.cancel()
        abort?()
    }

    /// Ends the upload once the response is complete, then awaits it.
    ///
    /// A body the client has sent whole is left to end by itself (a write still pending fails at
    /// once, its connection aborted): its end is already on the way, and cancelling the task while
    /// it waits for it would end the client connection's request stream too, so the server would
    /// close a keep-alive connection the client is about to send its next request on. A body still
    /// arriving can never be answered, so it is cancelled (and that client connection closes
    /// after the response). A lent body is reclaimed.
    public func finishUpload() async {
        if let lease {
            await lease.reclaim()
            return
        }
        let (received, abort) = state.withLock { ($0.clientBodyReceived, $0.abort) }
        if received { abort?() } else { cancel() }
        await finish()
    }

    func finish() async {
        let running = state.withLock { $0.task }
        _ = await running?.result
    }
}
