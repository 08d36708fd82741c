import BFFSpec
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1
import Prometheus

/// The aggregation and proxy routes a connection may answer on its event loop, without a task,
/// and what those answers carry; built once per server.
///
/// A route qualifies when nothing about it needs to wait on anything but its calls, and its rate
/// limits (if any) live in this process: a spec aggregation with no endpoint `cache:`, or a proxy
/// route to plain-HTTP instances when the spec has no `tracing:`. A request qualifies when it has
/// no body and no `X-Forwarded-Proto` (which may ask for HSTS), and its admission
/// ``RouteAdmission/admitOnLoop(_:)`` decides without waiting: public, an API key, or a JWT
/// verified before (a token not seen yet goes through the middleware, which verifies it and keeps
/// it). Aggregations take GETs; proxies take any method but CONNECT, without `Upgrade` and other
/// than a CORS preflight. Everything else goes through Hummingbird and the
/// middleware, with the same results.
final class FastAggregations: Sendable {
    let router: Router
    let accessLog: LogLineSink?
    let metrics: BFFMetrics?
    /// Spans and trace context, when the spec has `tracing:`.
    let tracer: RequestTracer?
    /// Where degraded calls are logged, at debug level.
    let logger: Logger
    /// The CORS fields of answers, when the spec has `cors:`.
    let cors: CORSAnswerFields?
    let hstsEnabled: Bool
    /// `Strict-Transport-Security`, for answers on TLS connections; nil sends none.
    let hsts: String?
    /// The `Content-Security-Policy` a proxied HTML answer without one gets.
    let htmlCSP: String

    /// The endpoint for each path that is exactly a qualifying route's literal path, worked out at
    /// start-up by the same matching (``endpoint(at:)``), so those requests are not routed again.
    private let literalPaths: [Substring: (AggregateEndpoint, RouteAdmission)]
    /// How each route answers here (by ``Router/Route/index``), nil for a route that never does:
    /// worked out once, so a request costs no cast of the route's handler.
    private let answers: [Answer?]

    init(router: Router, spec: ClientSpec, accessLog: LogLineSink?, metrics: BFFMetrics?, tracer: RequestTracer? = nil, logger: Logger) {
        self.router = router
        self.tracer = tracer
        self.logger = logger
        self.accessLog = accessLog
        self.metrics = metrics
        cors = spec.edge.cors.map(CORSAnswerFields.init(spec:))
        hstsEnabled = spec.edge.headers.hstsMaxAge != nil
        hsts = SecurityHeadersMiddleware.hsts(spec.edge.headers)
        htmlCSP = spec.edge.headers.htmlCSP
        literalPaths = Self.literalPaths(of: router)
        let proxiesQualify = tracer == nil
        answers = router.routesInOrder.map { route in
            if let endpoint = Self.endpoint(of: route) { return .aggregate(endpoint) }
            if proxiesQualify, let proxy = Self.proxy(of: route) { return .proxy(proxy) }
            return nil
        }
    }

    private static func literalPaths(of router: Router) -> [Substring: (AggregateEndpoint, RouteAdmission)] {
        var paths: [Substring: (AggregateEndpoint, RouteAdmission)] = [:]
        for route in router.routesInOrder {
            var literals: [String] = []
            for segment in route.pattern.segments {
                guard case .literal(let literal) = segment else { break }
                literals.append(literal)
            }
            guard literals.count == route.pattern.segments.count else { continue }
            let path = Substring("/" + literals.joined(separator: "/"))
            if let (endpoint, admission, captures) = endpoint(at: path, router: router), captures.isEmpty {
                paths[path] = (endpoint, admission)
            }
        }
        return paths
    }

    /// Whether any route could ever be answered here (else the handler is not installed).
    var isEmpty: Bool { !answers.contains { $0 != nil } }

    /// How a matched route answers.
    enum Answer {
        case aggregate(AggregateEndpoint)
        case proxy(ProxyEndpoint)
    }

    /// A route that may answer a request here.
    struct Match {
        let answer: Answer
        let admission: RouteAdmission
        let captures: [String: String]
        let path: Substring
        let query: Substring?
    }

    /// The route that may answer `request` here, with its captures and the path and query; nil
    /// when the request must go through Hummingbird.
    func match(_ request: HTTPRequest) -> Match? {
        guard let target = request.path,
            request.headerFields[.contentLength].map({ $0 == "0" }) ?? true,
            request.headerFields[.transferEncoding] == nil,
            !(hstsEnabled && request.headerFields[.xForwardedProto] != nil)
        else { return nil }
        let split = target.utf8.firstIndex(of: UInt8(ascii: "?"))
        let path = target[..<(split ?? target.endIndex)]
        let query = split.map { target[target.index(after: $0)...] }
        if request.method == .get, let (endpoint, admission) = literalPaths[path] {
            return Match(answer: .aggregate(endpoint), admission: admission, captures: [:], path: path, query: query)
        }
        // One route lookup decides both kinds of answer.
        guard let ingress = try? IngressPath(path), !ingress.isOperational,
            case .found(let route, let captures) = router.match(method: request.method, path: ingress)
        else { return nil }
        switch answers[route.index] {
        case .aggregate(let endpoint) where request.method == .get:
            return Match(answer: .aggregate(endpoint), admission: route.admission, captures: captures, path: path, query: query)
        case .proxy(let proxy):
            guard request.method != .connect, request.headerFields[.upgrade] == nil,
                !(cors != nil && request.method == .options && request.headerFields[.origin] != nil && request.headerFields[.accessControlRequestMethod] != nil)
            else { return nil }
            return Match(answer: .proxy(proxy), admission: route.admission, captures: captures, path: path, query: query)
        default:
            return nil
        }
    }

    /// The proxy endpoint of `route` when it may answer here (and the spec has no `tracing:`).
    private static func proxy(of route: Router.Route) -> ProxyEndpoint? {
        guard let proxy = route.handler as? ProxyEndpoint, route.admission.decidesOnLoop,
            proxy.service.instances.allSatisfy({ !$0.endpoint.isTLS })
        else { return nil }
        return proxy
    }

    /// The endpoint that answers a GET of `path` here, with its admission and captures.
    private static func endpoint(at path: Substring, router: Router) -> (AggregateEndpoint, RouteAdmission, captures: [String: String])? {
        guard let ingress = try? IngressPath(path), !ingress.isOperational,
            case .found(let route, let captures) = router.match(method: .get, path: ingress),
            let endpoint = Self.endpoint(of: route)
        else { return nil }
        return (endpoint, route.admission, captures)
    }

    private static func endpoint(of route: Router.Route) -> AggregateEndpoint? {
        guard let endpoint = route.handler as? AggregateEndpoint, endpoint.cache == nil, route.admission.decidesOnLoop else { return nil }
        return endpoint
    }
}

/// Answers qualifying aggregation and proxy requests on the connection's event loop (see
/// ``FastAggregations``) and passes every other request on to Hummingbird.
///
/// Sits after Hummingbird's connection-state handler, so idle timeouts and graceful-shutdown
/// quiescing count these requests too. Each answer is encoded here and written whole by
/// ``RequestHeadGuard``, past the HTTP encoders (a proxied answer in parts as it streams, with
/// backpressure: while the socket cannot take more, the service connection stops reading); only
/// its `end` goes through the handlers between,
/// for the connection-state handler, and stops at ``IngressHeaderSanitizer``. Answers stay in
/// request order on a pipelined connection: a
/// request is only answered here when nothing passed on is still unanswered, and parts that arrive
/// while one is being answered wait (with reads held) until its answer is written.
final class FastAggregationHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    /// The generation serving; each request is matched against its routes and answered with them.
    private let routes: GenerationSlot
    /// Writes the encoded answers to the socket.
    private let headGuard: RequestHeadGuard
    /// Where each answer's `end` stops.
    private let sanitizer: IngressHeaderSanitizer
    /// What the connection's TLS handshake established; nil on a plaintext connection.
    private let tls: TLSConnectionInfo?
    /// Requests passed on whose answer's end has not been written yet.
    private var passedOn = 0
    /// Whether the parts arriving belong to a request passed on.
    private var passingOn = false
    /// The request being answered here, from its head until its answer is written.
    private var current: Exchange?
    private var waiting = CircularBuffer<HTTPRequestPart>()
    private var heldRead = false
    private var date = HTTPDate()
    /// The channel's allocator, kept once (asking the channel for it costs two reference counts).
    private var allocator = ByteBufferAllocator()
    /// The client's address, kept once, for rate limits keyed by it.
    private var peer: SocketAddress?
    /// `peer` as text, made once per connection for the X-Forwarded-For of its proxied requests.
    private lazy var peerAddress: String? = peer?.ipAddress
    private var context: ChannelHandlerContext?

    /// One request answered here.
    private final class Exchange {
        let request: HTTPRequest
        /// The request's fields as the endpoint reads them: no client copy of a `forward_claims`
        /// header, the caller's own instead.
        let fields: HTTPFields
        /// The routes of the generation that matched it, which it finishes with.
        let routes: FastAggregations
        let answer: FastAggregations.Answer
        let captures: [String: String]
        let path: Substring
        let query: Substring?
        let requestID: String
        /// Who admission found calling, the `forward_claims` headers every call carries and the
        /// `RateLimit-*` fields every answer carries; or why the request is refused.
        let principal: Principal?
        let identityHeaders: [(String, String)]
        let admissionFields: HTTPFields
        let refusal: Problem?
        let started = NIODeadline.now()
        /// Set once the request's end arrived and its plan started.
        var running = false
        /// The request's server span, when tracing.
        var trace: ServerTrace?
        var run: PlanRun?
        /// A proxied request's call to its service, and how its answer is framed once its head is written.
        var proxy: LoopProxyCall?
        var proxyStatus = HTTPResponse.Status.ok
        var chunked = false
        var bodiless = false
        /// The answer's head, held until its first body part or its end so that a small answer
        /// goes to the socket as one buffer.
        var heldHead: ByteBuffer?

        /// The route pattern, for logs and metrics.
        var route: String {
            switch answer {
            case .aggregate(let endpoint): endpoint.plan.route.path
            case .proxy(let endpoint): endpoint.route.path
            }
        }

        init(
            request: HTTPRequest, fields: HTTPFields, routes: FastAggregations, match: FastAggregations.Match, requestID: String,
            principal: Principal?, identityHeaders: [(String, String)], admissionFields: HTTPFields, refusal: Problem?
        ) {
            self.request = request
            self.fields = fields
            self.routes = routes
            self.answer = match.answer
            self.captures = match.captures
            self.path = match.path
            self.query = match.query
            self.requestID = requestID
            self.principal = principal
            self.identityHeaders = identityHeaders
            self.admissionFields = admissionFields
            self.refusal = refusal
        }
    }

    init(routes: GenerationSlot, headGuard: RequestHeadGuard, sanitizer: IngressHeaderSanitizer, tls: TLSConnectionInfo?) {
        self.routes = routes
        self.headGuard = headGuard
        self.sanitizer = sanitizer
        self.tls = tls
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        allocator = context.channel.allocator
        peer = context.channel.remoteAddress
    }

    /// The connection closed (or the handler left it): the request being answered here is
    /// abandoned, its calls cancelled, its service connection closed. Hummingbird's
    /// connection-state handler, before this one, does not pass `channelInactive` on, so the
    /// pipeline's teardown is where a closed connection shows.
    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        guard let exchange = current else { return }
        if let proxy = exchange.proxy {
            proxy.cancel()
            clientLeft(exchange)
        } else {
            exchange.run?.cancel()
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        if current?.running == true || !waiting.isEmpty {
            waiting.append(part)
            return
        }
        receive(part, context: context)
    }

    private func receive(_ part: HTTPRequestPart, context: ChannelHandlerContext) {
        switch part {
        case .head(let request):
            if passedOn == 0, let routes = routes.generation.fast, let match = routes.match(request),
                let exchange = admitted(request, match, routes)
            {
                current = exchange
                passingOn = false
            } else {
                passedOn += 1
                passingOn = true
                context.fireChannelRead(wrapInboundOut(part))
            }
        case .body:
            if passingOn { context.fireChannelRead(wrapInboundOut(part)) }
        case .end:
            if passingOn {
                passingOn = false
                context.fireChannelRead(wrapInboundOut(part))
            } else if let current {
                start(current, context: context)
            }
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) { passedOn -= 1 }
        context.write(data, promise: promise)
    }

    func read(context: ChannelHandlerContext) {
        if current?.running == true && !waiting.isEmpty {
            heldRead = true
        } else {
            context.read()
        }
    }

    /// A client that closes its side mid-request has gone, like nginx's default: its calls are
    /// cancelled (a proxied one ends with the connection).
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .inputClosed = event as? ChannelEvent {
            current?.run?.cancel()
            if let exchange = current, let proxy = exchange.proxy {
                proxy.cancel()
                clientLeft(exchange)
                context.close(promise: nil)
            }
        }
        context.fireUserInboundEventTriggered(event)
    }

    /// A proxied answer waits for the socket to drain before it reads more from the service.
    func channelWritabilityChanged(context: ChannelHandlerContext) {
        current?.proxy?.pause(!context.channel.isWritable)
        context.fireChannelWritabilityChanged()
    }

    // MARK: Admission

    /// The exchange for `request`, admitted or refused by its route's admission as the middleware
    /// would; nil when that cannot be decided without waiting, so the request goes to Hummingbird.
    private func admitted(_ request: HTTPRequest, _ match: FastAggregations.Match, _ routes: FastAggregations) -> Exchange? {
        let requestID = RequestIDMiddleware.requestID(sent: request.headerFields[.requestID])
        let edge = match.admission.edge
        var fields = request.headerFields
        if !edge.claimHeaders.isEmpty { edge.removeClaimHeaders(from: &fields) }
        var principal: Principal?
        var identity: [(String, String)] = []
        var admissionFields: HTTPFields = [:]
        var refusal: Problem?
        if !match.admission.admitsEveryone {
            let input = RouteAdmission.Input(headers: fields, query: match.query, peer: peer, tlsSubject: tls?.clientSubject, requestID: requestID, logger: routes.logger)
            switch match.admission.admitOnLoop(input) {
            case .undecided:
                return nil
            case .refused(let problem):
                refusal = problem
            case .admitted(let admission):
                principal = admission.principal
                admissionFields = admission.headers
                if let principal, !edge.claimHeaders.isEmpty { identity = edge.addClaimHeaders(of: principal, to: &fields) }
            }
        }
        return Exchange(
            request: request, fields: fields, routes: routes, match: match, requestID: requestID,
            principal: principal, identityHeaders: identity, admissionFields: admissionFields, refusal: refusal
        )
    }

    // MARK: Answering

    /// What the request's templates may read: captures, query, the fields as admission left
    /// them, the request id, the caller and the client certificate's subject.
    private func inputs(of exchange: Exchange) -> RequestInputs {
        var inputs = RequestInputs(
            captures: exchange.captures,
            query: RequestInputs.parseQuery(exchange.query),
            headers: exchange.fields,
            requestID: exchange.requestID,
            claims: exchange.principal?.claims ?? [:]
        )
        inputs.principal = exchange.principal
        inputs.identityHeaders = exchange.identityHeaders
        inputs.tlsSubject = tls?.clientSubject
        return inputs
    }

    private func start(_ exchange: Exchange, context: ChannelHandlerContext) {
        exchange.running = true
        let requestID = exchange.requestID
        exchange.routes.metrics?.inFlight.increment()
        if let refusal = exchange.refusal {
            answer(exchange, problem: refusal, requestID: requestID, outcomes: [], context: context)
            return
        }
        let endpoint: AggregateEndpoint
        switch exchange.answer {
        case .aggregate(let aggregate): endpoint = aggregate
        case .proxy(let proxy):
            startProxy(exchange, proxy, context: context)
            return
        }
        let plan = endpoint.plan
        var inputs = self.inputs(of: exchange)
        if let tracer = exchange.routes.tracer {
            let trace = tracer.start(method: "GET", path: exchange.path, headers: exchange.request.headerFields, peer: context.channel.remoteAddress)
            exchange.trace = trace
            inputs.trace = trace
        }
        do {
            try plan.requireValidInputs(inputs)
        } catch {
            answer(exchange, problem: error, requestID: requestID, outcomes: [], context: context)
            return
        }
        let ifNoneMatch = exchange.request.headerFields[.ifNoneMatch]
        exchange.run = endpoint.executor.start(plan, inputs: inputs, on: context.eventLoop) { [self] result in
            exchange.run = nil
            switch result {
            case .success(let outcomes):
                write(exchange, endpoint, outcomes: outcomes, ifNoneMatch: ifNoneMatch, requestID: requestID, context: context)
            case .failure(let failure):
                answer(exchange, problem: failure.problem, requestID: requestID, outcomes: failure.outcomes, context: context)
            }
        }
    }

    /// Writes a problem answer: its own fields, less any that an added one replaces, then the
    /// fields the middleware would add.
    private func answer(_ exchange: Exchange, problem: Problem, requestID: String, outcomes: [(String, CallOutcome)], context: ChannelHandlerContext) {
        let (fields, body) = problem.encoded(requestID: requestID, instance: String(exchange.path))
        let closing = isClosing(exchange)
        var bytes = allocator.buffer(capacity: 512 + body.readableBytes)
        bytes.writeHTTP1StatusLine(problem.status)
        // `HTTPFields` only holds legal names and values, so none of these can start a line of its own.
        for field in fields where !Self.replacedFields.contains(field.name) { bytes.writeFieldLine(field.name.rawName, field.value) }
        writeAddedFields(to: &bytes, exchange, bodyLength: body.readableBytes, requestID: requestID, closing: closing)
        bytes.writeStaticString("\r\n")
        bytes.writeImmutableBuffer(body)
        send(bytes, exchange, status: problem.status, requestID: requestID, names: outcomes.map(\.0), outcomes: outcomes.map(\.1), closing: closing, context: context)
    }

    /// The fields of ``writeAddedFields(to:bodyLength:requestID:closing:)`` that take the place of
    /// any of the same name an answer carries (`Vary` is added to instead).
    private static let replacedFields: [HTTPField.Name] = [.date, .requestID, .xContentTypeOptions, .strictTransportSecurity, .connection, .contentLength]

    /// Writes the composed answer, head straight into the bytes sent: the fields
    /// ``AggregateEndpoint/answer(_:ifNoneMatch:)`` gives, then those the middleware would add.
    private func write(_ exchange: Exchange, _ endpoint: AggregateEndpoint, outcomes: [CallOutcome], ifNoneMatch: String?, requestID: String, context: ChannelHandlerContext) {
        var body = endpoint.composeBody(outcomes)
        let entityTag = AggregateResponse.entityTag(body.buffer, contentBytes: body.contentBytes, outcomes: outcomes)
        let names = endpoint.plan.callNames
        let headSize = 512 + names.timingSize + entityTag.utf8.count + requestID.utf8.count
        var bytes = allocator.buffer(capacity: headSize + body.buffer.readableBytes)
        let closing = isClosing(exchange)
        var status = HTTPResponse.Status.ok
        func writeHead(to head: inout some ByteSink) {
            status = AggregateResponse.writeAnswerHead(entityTag: entityTag, names: names, outcomes: outcomes, ifNoneMatch: ifNoneMatch, to: &head)
            writeAddedFields(to: &head, exchange, bodyLength: status == .notModified ? nil : body.buffer.readableBytes, requestID: requestID, closing: closing)
            head.write("\r\n")
        }
        bytes.writeDirect(expecting: headSize, { writeHead(to: &$0) }, orElse: { writeHead(to: &$0) })
        if status != .notModified { bytes.writeBuffer(&body.buffer) }
        send(bytes, exchange, status: status, requestID: requestID, names: endpoint.plan.callNames.names, outcomes: outcomes, closing: closing, context: context)
    }

    private func isClosing(_ exchange: Exchange) -> Bool {
        exchange.request.headerFields[.connection]?.lowercased() == "close"
    }

    /// The fields the middleware adds to every answer, written after the answer's own; `bodyLength`
    /// is nil for a 304. Each value is legal as it stands: the date, an accepted or generated
    /// request id (printable ASCII only), constants and a number.
    private func writeAddedFields(to bytes: inout some ByteSink, _ exchange: Exchange, bodyLength: Int?, requestID: String, closing: Bool) {
        let routes = exchange.routes
        bytes.writeFieldLine("Date", date.now())
        bytes.writeFieldLine("X-Request-ID", requestID)
        bytes.write("X-Content-Type-Options: nosniff\r\n")
        // The rate-limit fields of an admitted request; a refused one carries its own in the problem.
        for field in exchange.admissionFields { bytes.writeFieldLine(field.name.rawName, field.value) }
        if let cors = routes.cors {
            bytes.write("Vary: Origin\r\n")
            for (name, value) in cors.fields(origin: exchange.request.headerFields[.origin]) { bytes.writeFieldLine(name.rawName, value) }
        }
        // `Strict-Transport-Security` on every answer, when the connection is TLS and the spec sends it.
        if tls != nil, let hsts = routes.hsts { bytes.writeFieldLine("Strict-Transport-Security", hsts) }
        if closing { bytes.write("Connection: close\r\n") }
        if let bodyLength {
            bytes.write("Content-Length: ")
            bytes.write(decimal: bodyLength)
            bytes.write("\r\n")
        }
    }

    /// Writes an encoded answer, then logs and counts it, and goes on to the next request.
    private func send(
        _ bytes: ByteBuffer,
        _ exchange: Exchange,
        status: HTTPResponse.Status,
        requestID: String,
        names: [String],
        outcomes: [CallOutcome],
        closing: Bool,
        context: ChannelHandlerContext
    ) {
        guard self.context != nil else {
            // The connection is gone: the answer is only logged and counted.
            finished(exchange, status: status, requestID: requestID, names: names, outcomes: outcomes)
            current = nil
            return
        }
        headGuard.writeWholeResponse(bytes)
        ended(exchange, status: status, requestID: requestID, names: names, outcomes: outcomes, closing: closing, context: context)
    }

    /// After an answer's last bytes: its `end` through the handlers between, the log and the
    /// count, then the next request.
    private func ended(
        _ exchange: Exchange, status: HTTPResponse.Status, requestID: String, names: [String], outcomes: [CallOutcome], closing: Bool,
        context: ChannelHandlerContext
    ) {
        sanitizer.expectEndWrittenElsewhere()
        context.write(wrapOutboundOut(.end(nil)), promise: nil)
        finished(exchange, status: status, requestID: requestID, names: names, outcomes: outcomes)
        current = nil
        if closing {
            context.close(promise: nil)
            return
        }
        resume(context: context)
    }

    private func finished(_ exchange: Exchange, status: HTTPResponse.Status, requestID: String, names: [String], outcomes: [CallOutcome]) {
        let elapsed = NIODeadline.now() - exchange.started
        let route = exchange.route
        let degraded = zip(names, outcomes).filter { !$0.1.succeeded }
        let routes = exchange.routes
        AggregateResponse.logDegraded(degraded, requestID: requestID, logger: routes.logger)
        if let metrics = routes.metrics {
            metrics.inFlight.decrement()
            metrics.record(
                route: route, status: Int(status.code), duration: .nanoseconds(elapsed.nanoseconds),
                calls: zip(names, outcomes).map { CallSample(name: $0.0, status: $0.1.status, milliseconds: $0.1.milliseconds) }
            )
        }
        exchange.trace?.end(route: route, status: Int(status.code))
        routes.accessLog?.write(
            AccessLogMiddleware.line(
                requestID: requestID, method: exchange.request.method.rawValue, route: route, path: String(exchange.path), status: Int(status.code),
                milliseconds: Double(elapsed.nanoseconds) / 1e6, degraded: degraded.map(\.0), traceID: exchange.trace?.traceID
            )
        )
    }

    /// Handles the parts that waited, until one of them is answered here again; then reads on.
    private func resume(context: ChannelHandlerContext) {
        var delivered = false
        while current?.running != true, let part = waiting.popFirst() {
            receive(part, context: context)
            delivered = true
        }
        if delivered { context.fireChannelReadComplete() }
        if heldRead && (current?.running != true || waiting.isEmpty) {
            heldRead = false
            context.read()
        }
    }
}

// MARK: Proxying

extension FastAggregationHandler: LoopProxySink {
    /// Sends a proxied request on from this loop (``LoopProxyCall``); its answer streams back
    /// through the ``LoopProxySink`` methods.
    private func startProxy(_ exchange: Exchange, _ endpoint: ProxyEndpoint, context: ChannelHandlerContext) {
        let requestID = exchange.requestID
        let inputs = self.inputs(of: exchange)
        let uri: String
        do {
            uri = try ProxyEndpoint.upstreamTarget(endpoint.target, route: endpoint.route, inputs: inputs, query: exchange.query)
        } catch {
            answer(exchange, problem: error, requestID: requestID, outcomes: [], context: context)
            return
        }
        let method = exchange.request.method
        var fieldLines = allocator.buffer(capacity: 512)
        endpoint.forwarding.writeFieldLines(
            of: exchange.fields, peerAddress: peerAddress, overTLS: tls != nil, requestID: requestID, leavingOut: endpoint.deadlines.header, into: &fieldLines
        )
        let call = LoopProxyCall(
            endpoint: endpoint,
            request: LoopProxyRequest(method: method, target: uri, fieldLines: fieldLines),
            replayable: ProxyEndpoint.isReplayable(method: method, hasBody: false, fields: exchange.fields),
            pool: endpoint.transport.streamingPool(on: context.eventLoop),
            sink: self
        )
        exchange.proxy = call
        call.start()
    }

    /// Writes the head of the service's answer: its fields less hop-by-hop ones and those the
    /// middleware replaces or removes, then the fields the middleware adds, then the framing.
    func proxyHead(_ head: UpstreamResponseHead) {
        guard let exchange = current else { return }
        let status = HTTPResponse.Status(code: Int(head.status.code), reasonPhrase: head.status.reasonPhrase)
        exchange.proxyStatus = status
        exchange.bodiless = exchange.request.method == .head || status.code == 204 || status.code == 304
        let routes = exchange.routes
        let hsts = tls != nil ? routes.hsts : nil
        let corsFields = routes.cors?.fields(origin: exchange.request.headerFields[.origin]) ?? []
        var bytes = allocator.buffer(capacity: 768 + exchange.requestID.utf8.count)
        bytes.writeHTTP1StatusLine(status)
        let passed = head.lines.withUnsafeReadableBytes { lines in
            Self.writePassedOnFields(lines, replacingHSTS: hsts != nil, cors: corsFields, to: &bytes)
        }
        let length = head.contentLength ?? passed.declaredLength
        exchange.chunked = length == nil && !exchange.bodiless
        bytes.writeFieldLine("Date", date.now())
        bytes.writeFieldLine("X-Request-ID", exchange.requestID)
        bytes.writeStaticString("X-Content-Type-Options: nosniff\r\n")
        if passed.htmlWithoutCSP { bytes.writeFieldLine("Content-Security-Policy", routes.htmlCSP) }
        if let hsts { bytes.writeFieldLine("Strict-Transport-Security", hsts) }
        if routes.cors != nil {
            bytes.writeStaticString("Vary: Origin\r\n")
            for (name, value) in corsFields { bytes.writeFieldLine(name.rawName, value) }
        }
        for field in exchange.admissionFields { bytes.writeFieldLine(field.name.rawName, field.value) }
        if isClosing(exchange) { bytes.writeStaticString("Connection: close\r\n") }
        if let length {
            bytes.writeStaticString("Content-Length: ")
            bytes.write(decimal: length)
            bytes.writeStaticString("\r\n")
        } else if exchange.chunked {
            bytes.writeStaticString("Transfer-Encoding: chunked\r\n")
        }
        bytes.writeStaticString("\r\n")
        // Written with the first part of the body, or the end.
        exchange.heldHead = bytes
    }

    /// Parts of a body up to this size go out in the same buffer as the head held before them.
    private static let coalescedBodyBytes = 16 * 1024

    /// What passing a service's fields on found in them.
    private struct PassedOnFields {
        /// The `Content-Length` the service declared (a HEAD's answer, a 204 or 304 keeps it).
        var declaredLength: Int?
        /// Whether the answer is HTML without a `Content-Security-Policy` of its own.
        var htmlWithoutCSP: Bool
    }

    /// Writes the service's field lines that the client gets, in any letter case and without a
    /// string: hop-by-hop ones and those its `Connection` names are left out, and so are the ones
    /// the gateway sets or removes itself, as the middleware path does. The parser has checked
    /// each name and value, so the lines are only split, and each is written as it came.
    private static func writePassedOnFields(
        _ lines: UnsafeRawBufferPointer, replacingHSTS: Bool, cors: [(HTTPField.Name, String)], to bytes: inout ByteBuffer
    ) -> PassedOnFields {
        let all = 0..<lines.count
        // `Connection` values that name more than the hop-by-hop fields (a service's usual
        // `keep-alive` names nothing else to drop).
        var connectionValues: [Range<Int>] = []
        var length: Int?
        var contentTypeSeen = false
        var html = false
        var hasCSP = false
        HTTP1Syntax.forEachCheckedField(lines, all) { name, value in
            switch name.count {
            case 10 where HTTP1Syntax.equalsIgnoringCase(lines, name, "connection"):
                var namesOthers = false
                HTTP1Syntax.forEachListElement(lines, value) { element in
                    namesOthers = !HopByHop.contains(lines, element)
                    return !namesOthers
                }
                if namesOthers { connectionValues.append(value) }
            case 12 where !contentTypeSeen && HTTP1Syntax.equalsIgnoringCase(lines, name, "content-type"):
                contentTypeSeen = true
                html = value.count >= 9 && HTTP1Syntax.equalsIgnoringCase(lines, value.lowerBound..<(value.lowerBound + 9), "text/html")
            case 14 where length == nil && HTTP1Syntax.equalsIgnoringCase(lines, name, "content-length"):
                length = HTTP1Syntax.leadingDecimal(lines, value)
            case 23 where HTTP1Syntax.equalsIgnoringCase(lines, name, "content-security-policy"):
                hasCSP = true
            default:
                break
            }
        }
        HTTP1Syntax.forEachCheckedField(lines, all) { name, value in
            if HopByHop.contains(lines, name) { return }
            switch name.count {
            case 4 where HTTP1Syntax.equalsIgnoringCase(lines, name, "date"): return
            case 6 where HTTP1Syntax.equalsIgnoringCase(lines, name, "server"): return
            case 12 where HTTP1Syntax.equalsIgnoringCase(lines, name, "x-request-id") || HTTP1Syntax.equalsIgnoringCase(lines, name, "x-powered-by"):
                return
            case 22 where HTTP1Syntax.equalsIgnoringCase(lines, name, "x-content-type-options"): return
            case 25 where replacingHSTS && HTTP1Syntax.equalsIgnoringCase(lines, name, "strict-transport-security"): return
            default: break
            }
            if !connectionValues.isEmpty, connectionValues.contains(where: { HTTP1Syntax.listContains(lines, $0, element: name) }) { return }
            if !cors.isEmpty, cors.contains(where: { HTTP1Syntax.equalsIgnoringCase(lines, name, lowercased: $0.0.canonicalName) }) { return }
            bytes.writeBytes(UnsafeRawBufferPointer(rebasing: lines[name]))
            bytes.writeStaticString(": ")
            bytes.writeBytes(UnsafeRawBufferPointer(rebasing: lines[value]))
            bytes.writeStaticString("\r\n")
        }
        return PassedOnFields(declaredLength: length, htmlWithoutCSP: html && !hasCSP)
    }

    func proxyBody(_ buffer: ByteBuffer) {
        guard let exchange = current, !exchange.bodiless, buffer.readableBytes > 0 else { return }
        if exchange.chunked {
            var size = exchange.heldHead.take() ?? allocator.buffer(capacity: 18)
            size.writeString(String(buffer.readableBytes, radix: 16))
            size.writeStaticString("\r\n")
            headGuard.writeResponseBytes(size, flush: false)
            headGuard.writeResponseBytes(buffer, flush: false)
            headGuard.writeResponseBytes(ByteBuffer(staticString: "\r\n"), flush: true)
        } else if var head = exchange.heldHead.take() {
            if buffer.readableBytes <= Self.coalescedBodyBytes {
                head.writeImmutableBuffer(buffer)
                headGuard.writeResponseBytes(head, flush: true)
            } else {
                headGuard.writeResponseBytes(head, flush: false)
                headGuard.writeResponseBytes(buffer, flush: true)
            }
        } else {
            headGuard.writeResponseBytes(buffer, flush: true)
        }
        if let context, !context.channel.isWritable { exchange.proxy?.pause(true) }
    }

    func proxyEnd() {
        guard let exchange = current, let context else { return }
        exchange.proxy = nil
        if var last = exchange.heldHead.take() {
            if exchange.chunked { last.writeStaticString("0\r\n\r\n") }
            headGuard.writeResponseBytes(last, flush: true)
        } else if exchange.chunked {
            headGuard.writeResponseBytes(ByteBuffer(staticString: "0\r\n\r\n"), flush: true)
        }
        headGuard.endStreamedResponse()
        ended(exchange, status: exchange.proxyStatus, requestID: exchange.requestID, names: [], outcomes: [], closing: isClosing(exchange), context: context)
    }

    func proxyRefused(_ problem: Problem) {
        guard let exchange = current, let context else { return }
        exchange.proxy = nil
        answer(exchange, problem: problem, requestID: exchange.requestID, outcomes: [], context: context)
    }

    /// The service's answer broke off mid-body: the client can only learn it from the connection
    /// closing before the answer's length (or last chunk).
    func proxyBrokeOff() {
        guard let exchange = current, let context else { return }
        exchange.proxy = nil
        finished(exchange, status: exchange.proxyStatus, requestID: exchange.requestID, names: [], outcomes: [])
        current = nil
        context.close(promise: nil)
    }

    /// Logs and counts a proxied request whose client left before its answer was written, as 499
    /// (nginx's "client closed request").
    private func clientLeft(_ exchange: Exchange) {
        exchange.proxy = nil
        finished(exchange, status: HTTPResponse.Status(code: 499, reasonPhrase: "Client Closed Request"), requestID: exchange.requestID, names: [], outcomes: [])
        current = nil
    }
}
