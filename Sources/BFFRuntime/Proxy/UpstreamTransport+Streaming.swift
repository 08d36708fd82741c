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
    /// The caller owns ``StreamedResponse/upload`` and must end it (``StreamedResponse/finishUpload()``)
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
                    self.pool(on: eventLoop).acquire(service, connectDeadline: connectDeadline)
                }.get()
                try await eventLoop.submit {
                    exchange.connection = connection
                    var head = head
                    head.headers.replaceOrAdd(name: "host", value: service.hostHeader)
                    head.uri = service.basePath + head.uri
                    if body == nil {
                        connection.start(exchange, head: head)
                        exchange.armHeadTimeout(deadline: .now() + .nanoseconds(headTimeout.nanosecondsValue), budget: headTimeout, on: eventLoop)
                    } else {
                        connection.startStreaming(exchange, head: head)
                    }
                }.get()
                if let body {
                    upload.start {
                        try await Self.upload(body, over: connection, exchange: exchange, headTimeout: headTimeout, service: service, on: eventLoop)
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
    private static func upload<Body: AsyncSequence & Sendable>(
        _ body: Body,
        over connection: UpstreamConnectionHandler,
        exchange: StreamingExchange,
        headTimeout: Duration,
        service: ServiceEndpoint,
        on eventLoop: any EventLoop
    ) async throws where Body.Element == ByteBuffer {
        let closed = UpstreamError.connectionClosed(service: service.name)
        do {
            for try await chunk in body {
                try await eventLoop.flatSubmit { connection.writeBody(chunk) ?? eventLoop.makeFailedFuture(closed) }.get()
            }
            try await eventLoop.flatSubmit { connection.writeEnd() ?? eventLoop.makeFailedFuture(closed) }.get()
            let deadline = NIODeadline.now() + .nanoseconds(headTimeout.nanosecondsValue)
            eventLoop.execute { exchange.armHeadTimeout(deadline: deadline, budget: headTimeout, on: eventLoop) }
        } catch {
            eventLoop.execute { exchange.fail(.connectionClosed(service: service.name)) }
            throw error
        }
    }
}

/// The task uploading a proxied request body, owned by the proxy endpoint: it is always either
/// awaited to its end or cancelled and awaited, never left running past the request.
public final class UploadHandle: Sendable {
    private struct State {
        var task: Task<Void, any Error>?
        var abort: (@Sendable () -> Void)?
    }

    private let state = Mutex(State())

    init() {}

    /// Starts `operation`; `abort` closes its connection when it must stop while a write is pending.
    func start(_ operation: @escaping @Sendable () async throws -> Void, abort: @escaping @Sendable () -> Void) {
        state.withLock { $0 = State(task: Task { try await operation() }, abort: abort) }
    }

    func cancel() {
        let (task, abort) = state.withLock { ($0.task, $0.abort) }
        task?.cancel()
        abort?()
    }

    /// Ends the upload: a request body still being sent once the response is complete can never
    /// be answered, so it is cancelled (its connection closes), then awaited.
    public func finishUpload() async {
        cancel()
        await finish()
    }

    func finish() async {
        let running = state.withLock { $0.task }
        _ = await running?.result
    }
}
