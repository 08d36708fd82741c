import BFFSpec
import HTTPTypes
import Hummingbird
import NIOCore
import NIOHTTP1
import NIOHTTPTypesHTTP1
import Prometheus

/// Forwards a route to one service, streaming bodies both ways.
///
/// Hop-by-hop headers (and any header `Connection` names) are dropped in both directions; the
/// request's head is what ``ProxyForwarding`` makes of the client's.
///
/// The service's instances are balanced and its breaker is honoured. With `retry:` declared, a
/// request is tried again on another instance, within the retry budget and the route's timeout
/// and after the same jittered pause as aggregation calls, only where that cannot send it twice:
/// when it never reached a service (connect failures), or, for body-less idempotent requests
/// (or ones with an `Idempotency-Key`), when the connection dropped before an answer or the
/// answer was 502, 503 or 504. A streamed body cannot be sent twice. A retried answer is
/// dropped unread (never reaching the client); the last try's answer is passed on as it is.
struct ProxyEndpoint: EndpointHandler {
    let route: RoutePattern
    let service: ServiceCluster
    let target: CompiledTemplate
    let headTimeout: Duration
    let transport: UpstreamTransport
    let deadlines: DeadlineSpec
    let forwarding: ProxyForwarding

    static let idempotentMethods: Set<HTTPRequest.Method> = [.get, .head, .options, .put, .delete, .trace]

    func handle(_ request: Request, context: BFFRequestContext, captures: [String: String]) async throws -> Response {
        context.record.note(route: route.path)
        let uri = try Self.upstreamTarget(target, route: route, request: request, context: context, captures: captures)
        let hasBody = request.headers[.contentLength].map { $0 != "0" } ?? (request.headers[.transferEncoding] != nil)
        var headers = forwarding.headers(of: request, context: context)
        if hasBody {
            if let contentLength = request.headers[.contentLength] {
                headers.add(name: "content-length", value: contentLength)
            } else {
                headers.add(name: "transfer-encoding", value: "chunked")
            }
        }
        var head = HTTPRequestHead(
            version: .http1_1,
            method: HTTPMethod(rawValue: request.method.rawValue),
            uri: uri,
            headers: headers
        )
        let replayable = Self.isReplayable(method: request.method, hasBody: hasBody, fields: request.headers)
        // Traced, the service gets the proxied call's own span as parent instead of the client's.
        let span = context.trace?.startCall("proxy \(service.name)", service: service.name)
        if let span { span.addHeaders(to: &head.headers) }
        let upstream: StreamedResponse
        do {
            upstream = try await forward(head, body: hasBody ? request.body : nil, replayable: replayable, eventLoop: context.eventLoop)
        } catch {
            span?.endProxied(status: nil)
            throw error
        }
        span?.endProxied(status: Int(upstream.head.status.code))
        var responseHeaders = upstream.head.headers
        let upstreamLength = responseHeaders.first(name: "content-length").flatMap(Int.init)
        HopByHop.strip(&responseHeaders)
        for name in ["server", "x-powered-by"] { responseHeaders.remove(name: name) }
        var fields = HTTPFields(responseHeaders, splitCookie: false)
        if let upstreamLength { fields[.contentLength] = String(upstreamLength) }
        let body = upstream.body
        let upload = upstream.upload
        return Response(
            status: .init(code: Int(upstream.head.status.code), reasonPhrase: upstream.head.status.reasonPhrase),
            headers: fields,
            body: ResponseBody(contentLength: upstreamLength) { writer in
                // The client has its whole answer before the upload is wound down; either way the
                // upload is over before the server reads on.
                do {
                    for try await chunk in body {
                        try await writer.write(chunk)
                    }
                    try await writer.finish(nil)
                } catch {
                    await upload?.finishUpload()
                    throw error
                }
                await upload?.finishUpload()
            }
        )
    }

    /// The request target a proxied request is sent to: `target` filled from the request (400 for
    /// input a template refuses), then the client's query as it came.
    static func upstreamTarget(
        _ target: CompiledTemplate,
        route: RoutePattern,
        request: Request,
        context: BFFRequestContext,
        captures: [String: String]
    ) throws(Problem) -> String {
        let inputs = RequestInputs(request: request, context: context, captures: captures)
        return try upstreamTarget(target, route: route, inputs: inputs, query: request.uri.query.map { Substring($0) })
    }

    /// The request target filled from `inputs`, then `query` (the client's, as it came) appended.
    static func upstreamTarget(_ target: CompiledTemplate, route: RoutePattern, inputs: RequestInputs, query: Substring?) throws(Problem) -> String {
        var uri: String
        do {
            try target.validateRequestInputs(inputs, restCapture: route.restCapture)
            uri = try target.render(inputs: inputs, restCapture: route.restCapture) { _ in nil }
        } catch {
            throw Problem.badRequest(error.clientMessage)
        }
        if let query, !query.isEmpty {
            uri += (uri.contains("?") ? "&" : "?") + query
        }
        return uri
    }

    /// Whether a request may be sent again after a connection dropped or a 502/503/504: it has no
    /// body and is idempotent or carries an `Idempotency-Key`.
    static func isReplayable(method: HTTPRequest.Method, hasBody: Bool, fields: HTTPFields) -> Bool {
        !hasBody && (idempotentMethods.contains(method) || fields[.idempotencyKey] != nil)
    }

    // MARK: Retry decisions (this async path and the event-loop path, ``LoopProxyCall``, alike)

    /// How long a try may wait for its answer's head, `tries` counting it: the route's timeout, or
    /// for a retry of a body-less request what is left of it.
    func tryTimeout(tries: Int, hasBody: Bool, deadline: NIODeadline) -> Duration {
        tries > 1 && !hasBody ? Duration.nanoseconds(max(0, (deadline - .now()).nanoseconds)) : headTimeout
    }

    /// `head` as a try with `timeout` sends it: with the deadline header, when the spec names one.
    func tryHead(_ head: HTTPRequestHead, timeout: Duration) -> HTTPRequestHead {
        guard let header = deadlines.header else { return head }
        var head = head
        head.headers.replaceOrAdd(name: header, value: String(timeout.milliseconds))
        return head
    }

    /// The pause before trying again after an answer of `status` to the try numbered `tries`; nil
    /// passes the answer on.
    func retryPause(afterAnswer status: UInt, replayable: Bool, tries: Int, deadline: NIODeadline) -> Duration? {
        guard replayable, ServiceCluster.retriedStatuses.contains(status) else { return nil }
        return service.retryPause(after: tries, deadline: deadline, minRemaining: deadlines.minRemaining)
    }

    /// The pause before trying again after `failure` of the try numbered `tries` to `endpoint`; nil
    /// gives up. Only a request that cannot have reached a service, or a replayable one, is tried again.
    func retryPause(after failure: UpstreamError, to endpoint: ServiceEndpoint, hasBody: Bool, replayable: Bool, tries: Int, deadline: NIODeadline) -> Duration? {
        let neverSent: Bool
        switch failure {
        case .connectFailed: neverSent = !(endpoint.isTLS && hasBody)
        case .connectionClosed, .malformedResponse: neverSent = replayable
        default: neverSent = false
        }
        guard neverSent else { return nil }
        return service.retryPause(after: tries, deadline: deadline, minRemaining: deadlines.minRemaining)
    }

    /// Sends the request to an instance, retrying on another only where that cannot send it twice.
    ///
    /// The route's timeout bounds the time to an answer's head over every try of a body-less
    /// request: a retry gets what is left of it. A request with a body is retried only before any
    /// of it was sent, and its timeout counts from the end of its body, so each try has all of it.
    private func forward(_ head: HTTPRequestHead, body: RequestBody?, replayable: Bool, eventLoop: any EventLoop) async throws -> StreamedResponse {
        let permit = service.breaker?.acquire(at: NIODeadline.uptimeNow) ?? .allowed
        if case .rejected(let retryAfter) = permit {
            service.metrics.breakerRejections.increment()
            throw Problem.circuitOpen(service: service.name, retryAfter: retryAfter)
        }
        let deadline = NIODeadline.now() + .nanoseconds(headTimeout.nanosecondsValue)
        service.retryBudget?.deposit()
        var tried: [Int] = []
        while true {
            let instance = service.pick(excluding: tried)
            tried.append(instance.index)
            let timeout = tryTimeout(tries: tried.count, hasBody: body != nil, deadline: deadline)
            instance.started()
            let failure: UpstreamError
            do {
                let upstream = try await transport.stream(
                    head: tryHead(head, timeout: timeout), body: body, to: instance.endpoint, headTimeout: timeout, on: eventLoop
                )
                instance.finished()
                let failed = upstream.head.status.code >= 500
                service.report(instance, failed: failed)
                if let pause = retryPause(afterAnswer: upstream.head.status.code, replayable: replayable, tries: tried.count, deadline: deadline) {
                    await upstream.discard()
                    try await waitBeforeRetry(pause, permit: permit)
                    continue
                }
                service.breaker?.record(permit, failed ? .failure : .success, at: NIODeadline.uptimeNow)
                return upstream
            } catch let error as UpstreamError {
                instance.finished()
                failure = error
            }
            if case .cancelled = failure {
                service.breaker?.record(permit, .none, at: NIODeadline.uptimeNow)
                throw Problem.upstream(failure)
            }
            service.report(instance, failed: true)
            let pause = retryPause(after: failure, to: instance.endpoint, hasBody: body != nil, replayable: replayable, tries: tried.count, deadline: deadline)
            if let pause {
                try await waitBeforeRetry(pause, permit: permit)
                continue
            }
            service.breaker?.record(permit, .failure, at: NIODeadline.uptimeNow)
            throw Problem.upstream(failure)
        }
    }

    /// Waits out a retry's pause and counts the retry; a client that went away meanwhile ends the request.
    private func waitBeforeRetry(_ pause: Duration, permit: CircuitBreaker.Permit) async throws {
        if pause > .zero { try? await Task.sleep(for: pause) }
        if Task.isCancelled {
            service.breaker?.record(permit, .none, at: NIODeadline.uptimeNow)
            throw Problem.upstream(.cancelled(service: service.name))
        }
        service.metrics.retries.increment()
    }
}

extension HTTPField.Name {
    static let idempotencyKey = Self("Idempotency-Key")!
}
