import BFFSpec
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOHTTPTypes
import Prometheus

/// The aggregation routes a connection may answer on its event loop, without a task, and what
/// those answers carry; built once per server.
///
/// A route qualifies when nothing about it needs to wait on anything but its calls: a spec
/// aggregation with no endpoint `cache:`, whose rate limits (if any) live in this process. A request
/// qualifies when it is a body-less GET without `X-Forwarded-Proto` (which may ask for HSTS) whose
/// admission ``RouteAdmission/admitOnLoop(_:)`` decides without waiting: public, an API key, or a
/// JWT verified before (a token not seen yet goes through the middleware, which verifies it and
/// keeps it). Everything else goes through Hummingbird and the middleware, with the same results.
struct FastAggregations: Sendable {
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

    /// The endpoint for each path that is exactly a qualifying route's literal path, worked out at
    /// start-up by the same matching (``endpoint(at:)``), so those requests are not routed again.
    private let literalPaths: [Substring: (AggregateEndpoint, RouteAdmission)]

    init(router: Router, spec: ClientSpec, accessLog: LogLineSink?, metrics: BFFMetrics?, tracer: RequestTracer? = nil, logger: Logger) {
        self.router = router
        self.tracer = tracer
        self.logger = logger
        self.accessLog = accessLog
        self.metrics = metrics
        cors = spec.edge.cors.map(CORSAnswerFields.init(spec:))
        hstsEnabled = spec.edge.headers.hstsMaxAge != nil
        hsts = SecurityHeadersMiddleware.hsts(spec.edge.headers)
        literalPaths = Self.literalPaths(of: router)
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
    var isEmpty: Bool { !router.routesInOrder.contains { Self.endpoint(of: $0) != nil } }

    /// A route that may answer a request here.
    struct Match {
        let endpoint: AggregateEndpoint
        let admission: RouteAdmission
        let captures: [String: String]
        let path: Substring
        let query: Substring?
    }

    /// The route that may answer `request` here, with its captures and the path and query; nil
    /// when the request must go through Hummingbird.
    func match(_ request: HTTPRequest) -> Match? {
        guard request.method == .get, let target = request.path,
            request.headerFields[.contentLength].map({ $0 == "0" }) ?? true,
            request.headerFields[.transferEncoding] == nil,
            !(hstsEnabled && request.headerFields[.xForwardedProto] != nil)
        else { return nil }
        let split = target.utf8.firstIndex(of: UInt8(ascii: "?"))
        let path = target[..<(split ?? target.endIndex)]
        let query = split.map { target[target.index(after: $0)...] }
        if let (endpoint, admission) = literalPaths[path] { return Match(endpoint: endpoint, admission: admission, captures: [:], path: path, query: query) }
        guard let (endpoint, admission, captures) = Self.endpoint(at: path, router: router) else { return nil }
        return Match(endpoint: endpoint, admission: admission, captures: captures, path: path, query: query)
    }

    /// The endpoint that answers a GET of `path` here, with its admission and captures.
    private static func endpoint(at path: Substring, router: Router) -> (AggregateEndpoint, RouteAdmission, captures: [String: String])? {
        guard let ingress = try? IngressPath(path), !(ingress.segments.count == 1 && (ingress.segments[0] == "health" || ingress.segments[0] == "ready")),
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

/// Answers qualifying aggregation requests on the connection's event loop (see
/// ``FastAggregations``) and passes every other request on to Hummingbird.
///
/// Sits after Hummingbird's connection-state handler, so idle timeouts and graceful-shutdown
/// quiescing count these requests too. Each answer is encoded here and written whole by
/// ``RequestHeadGuard``, past the HTTP encoders; only its `end` goes through the handlers between,
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

    /// One request answered here.
    private final class Exchange {
        let request: HTTPRequest
        /// The request's fields as the endpoint reads them: no client copy of a `forward_claims`
        /// header, the caller's own instead.
        let fields: HTTPFields
        /// The routes of the generation that matched it, which it finishes with.
        let routes: FastAggregations
        let endpoint: AggregateEndpoint
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

        init(
            request: HTTPRequest, fields: HTTPFields, routes: FastAggregations, match: FastAggregations.Match, requestID: String,
            principal: Principal?, identityHeaders: [(String, String)], admissionFields: HTTPFields, refusal: Problem?
        ) {
            self.request = request
            self.fields = fields
            self.routes = routes
            self.endpoint = match.endpoint
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
        allocator = context.channel.allocator
        peer = context.channel.remoteAddress
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
            if passedOn == 0, let routes = routes.generation.fast, let match = routes.match(request), let exchange = admitted(request, match, routes) {
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

    func channelInactive(context: ChannelHandlerContext) {
        current?.run?.cancel()
        context.fireChannelInactive()
    }

    /// A client that closes its side mid-request has gone, like nginx's default: its calls are cancelled.
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .inputClosed = event as? ChannelEvent {
            current?.run?.cancel()
        }
        context.fireUserInboundEventTriggered(event)
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

    private func start(_ exchange: Exchange, context: ChannelHandlerContext) {
        exchange.running = true
        let requestID = exchange.requestID
        exchange.routes.metrics?.inFlight.increment()
        if let refusal = exchange.refusal {
            answer(exchange, problem: refusal, requestID: requestID, outcomes: [], context: context)
            return
        }
        let plan = exchange.endpoint.plan
        var inputs = RequestInputs(
            captures: exchange.captures,
            query: RequestInputs.parseQuery(exchange.query),
            headers: exchange.fields,
            requestID: requestID,
            claims: exchange.principal?.claims ?? [:]
        )
        inputs.principal = exchange.principal
        inputs.identityHeaders = exchange.identityHeaders
        inputs.tlsSubject = tls?.clientSubject
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
        exchange.run = exchange.endpoint.executor.start(plan, inputs: inputs, on: context.eventLoop) { [self] result in
            exchange.run = nil
            switch result {
            case .success(let outcomes):
                write(exchange, outcomes: outcomes, ifNoneMatch: ifNoneMatch, requestID: requestID, context: context)
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
    private func write(_ exchange: Exchange, outcomes: [CallOutcome], ifNoneMatch: String?, requestID: String, context: ChannelHandlerContext) {
        let endpoint = exchange.endpoint
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
        headGuard.writeWholeResponse(bytes)
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
        let route = exchange.endpoint.plan.route.path
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
                requestID: requestID, method: "GET", route: route, path: String(exchange.path), status: Int(status.code),
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
