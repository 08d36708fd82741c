import BFFSpec
public import NIOCore
public import NIOHTTP1

extension UpstreamTransport {
    /// Forwards a request with a streamed body and returns as soon as the response head arrives.
    ///
    /// Request body parts are written as they come (each write awaited, so a slow upstream slows the
    /// client); the response body streams with backpressure. `headTimeout` starts once the request
    /// body is fully sent, so large uploads are not cut off by it. Throws ``UpstreamError``.
    public func stream<Body: AsyncSequence & Sendable>(
        head: HTTPRequestHead,
        body: Body?,
        to service: ServiceEndpoint,
        headTimeout: Duration,
        on preferredLoop: (any EventLoop)?
    ) async throws -> StreamedResponse where Body.Element == ByteBuffer {
        let eventLoop = eventLoop(preferring: preferredLoop)
        let headPromise = eventLoop.makePromise(of: HTTPResponseHead.self)
        let exchange = StreamingExchange(headPromise: headPromise, service: service.name)
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
                    } else {
                        connection.startStreaming(exchange, head: head)
                    }
                }.get()
                if let body {
                    for try await chunk in body {
                        try await eventLoop.flatSubmit {
                            connection.writeBody(chunk) ?? eventLoop.makeFailedFuture(UpstreamError.connectionClosed(service: service.name))
                        }.get()
                    }
                    try await eventLoop.flatSubmit {
                        connection.writeEnd() ?? eventLoop.makeFailedFuture(UpstreamError.connectionClosed(service: service.name))
                    }.get()
                }
                let deadline = NIODeadline.now() + .nanoseconds(headTimeout.nanosecondsValue)
                eventLoop.execute { exchange.armHeadTimeout(deadline: deadline, budget: headTimeout, on: eventLoop) }
                return StreamedResponse(head: try await headPromise.futureResult.get(), body: responseBody)
            } onCancel: {
                eventLoop.execute { exchange.fail(.cancelled(service: service.name)) }
            }
        } catch let error as UpstreamError {
            eventLoop.execute { exchange.fail(error) }
            throw error.attributed(to: service.name)
        } catch {
            eventLoop.execute { exchange.fail(.connectionClosed(service: service.name)) }
            throw UpstreamError.connectionClosed(service: service.name)
        }
    }
}
