public import BFFSpec
import Hummingbird
import HummingbirdCore
public import Logging
import NIOCore
import NIOPosix
public import ServiceLifecycle
import UnixSignals

/// One BFF: a spec and its Swift endpoints compiled into a router, served by Hummingbird with
/// upstream calls on the same event loops.
///
/// Everything is compiled in `init`, so a bad spec or Swift endpoint fails at start-up with
/// file:line, never at request time.
///
/// ```swift
/// let spec = try SpecLoader.load(file: "bff-specs/web.yaml")
/// let server = try BFFServer(spec: spec, swiftEndpoints: WebEndpoints.all, options: .init(listen: spec.listen!))
/// try await server.runUntilSignalled()
/// ```
public final class BFFServer: Service, Sendable {
    public let spec: ClientSpec
    public let options: ServerOptions
    private let group: MultiThreadedEventLoopGroup
    private let transport: UpstreamTransport
    /// Every service's instances and protection state, by name.
    private let clusters: [String: ServiceCluster]
    private let router: Router
    private let edge: EdgeRuntime
    private let readiness: Readiness
    private let healthChecker: HealthChecker
    /// The store and coalescer behind every `cache:`; nil when nothing caches.
    private let cache: CacheRuntime?
    /// The public listener's certificate when the spec has `tls:`.
    private let tls: TLSCredentials?
    private let metrics = BFFMetrics()
    private let logger: Logger
    private let onListening: (@Sendable (Int) async -> Void)?
    private let onAdminListening: (@Sendable (Int) async -> Void)?

    /// Compiles `spec` and `swiftEndpoints`, and reads the credentials the spec names (JWT secrets
    /// and keys, the API keys file).
    /// - Parameters:
    ///   - onListening: called with the bound port once the server accepts connections.
    ///   - onAdminListening: called with the admin listener's bound port once it accepts connections.
    ///   - validateOnly: compile routes without reading secrets or key files, to check a spec
    ///     (`bff validate`); such a server is only for ``routeDescriptions`` and ``discard()``.
    /// - Throws: ``SpecLoadError`` when a Swift endpoint is invalid or clashes with a spec route.
    public init(
        spec: ClientSpec,
        swiftEndpoints: [SwiftEndpoint] = [],
        options: ServerOptions,
        logger: Logger? = nil,
        validateOnly: Bool = false,
        onListening: (@Sendable (Int) async -> Void)? = nil,
        onAdminListening: (@Sendable (Int) async -> Void)? = nil
    ) async throws(SpecLoadError) {
        self.spec = spec
        self.options = options
        self.logger = logger ?? Logger(label: "bff.\(spec.name)")
        self.onListening = onListening
        self.onAdminListening = onAdminListening
        let serverLogger = self.logger
        tls = try spec.tls.map { tls throws(SpecLoadError) in try TLSCredentials(spec: tls, offerHTTP2: spec.http2.overTLS, logger: serverLogger) }
        let grpcPools = try Self.grpcPools(for: spec)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: options.threads)
        let metrics = self.metrics
        // Every call the server will make, YAML and Swift; what services must track follows from them.
        let declaredCalls = spec.endpoints.flatMap { endpoint -> [CallSpec] in
            guard case .aggregate(let aggregate) = endpoint.kind else { return [] }
            return aggregate.calls
        } + swiftEndpoints.flatMap { (try? $0.spec())?.1.calls ?? [] }
        let hedgedAfterP95 = Set(declaredCalls.filter { $0.hedge?.after == .p95 }.map(\.service))
        let services = spec.services.mapValues {
            ServiceCluster(spec: $0, metrics: metrics, tracksLatency: hedgedAfterP95.contains($0.name), grpc: grpcPools[$0.name])
        }
        let transport: UpstreamTransport
        do {
            transport = try UpstreamTransport(group: group, services: services.values.flatMap { $0.instances.map(\.endpoint) })
        } catch {
            try? await group.shutdownGracefully()
            let tlsServices = spec.services.values.filter { $0.caFile != nil }
            throw SpecLoadError(tlsServices.map { SpecDiagnostic($0.location, "service '\($0.name)': ca_file is not a PEM certificate file", hint: "give a PEM file of CA certificates") })
        }
        self.group = group
        self.transport = transport
        self.clusters = services
        let runner = CallRunner(transport: transport, deadlines: spec.deadlines)
        let caches = spec.endpoints.contains { endpoint in
            if endpoint.cache != nil { return true }
            guard case .aggregate(let aggregate) = endpoint.kind else { return false }
            return aggregate.calls.contains { $0.cache != nil }
        } || swiftEndpoints.contains { $0.calls.contains { $0.cache != nil } }
        // A Redis store connects on first use, so `bff validate` never reaches out to it.
        let cache = caches
            ? CacheRuntime(spec: spec.cacheStore, bff: spec.name, apiKeyHeader: spec.edge.auth?.apiKeys?.header, metrics: metrics, group: group, logger: self.logger)
            : nil
        self.cache = cache
        let executor = FanOutExecutor(runner: runner, cache: cache)
        let limited = !spec.edge.rateLimits.limits.isEmpty || !spec.edge.plans.isEmpty || spec.endpoints.contains { !$0.rateLimits.isEmpty }
            || swiftEndpoints.contains { !$0.rateLimits.isEmpty }
        let edge: EdgeRuntime
        do {
            edge = try await EdgeRuntime(
                spec: spec,
                limited: limited,
                loadCredentials: !validateOnly,
                group: group,
                storeErrors: metrics.rateLimitStoreErrors,
                logger: self.logger
            )
        } catch {
            await cache?.shutdown()
            try? await group.shutdownGracefully()
            throw error
        }
        self.edge = edge
        let wideLimits = spec.edge.rateLimits.limits.enumerated().map { (id: "bff\($0)", spec: $1) }
        func admission(route: RoutePattern, auth: EndpointAuthSpec?, limits: [RateLimitSpec], bodyLimit: Int?) -> RouteAdmission {
            let own = limits.enumerated().map { (id: "\(route.method) \(route.path)#\($0)", spec: $1) }
            return RouteAdmission(auth: auth, limits: wideLimits + own, bodyLimit: bodyLimit, edge: edge)
        }
        var routes: [Router.Route] = spec.endpoints.map { endpoint in
            switch endpoint.kind {
            case .aggregate(let aggregate):
                let plan = CompiledPlan(route: endpoint.route, timeout: endpoint.timeout, aggregate: aggregate, services: services)
                return Router.Route(
                    pattern: endpoint.route,
                    handler: AggregateEndpoint(
                        plan: plan,
                        executor: executor,
                        cache: endpoint.cache.flatMap { spec in
                            cache.map { EndpointCache(runtime: $0, spec: spec, variables: aggregate.calls.flatMap(\.variables)) }
                        }
                    ),
                    admission: admission(route: endpoint.route, auth: endpoint.auth, limits: endpoint.rateLimits, bodyLimit: spec.edge.limits.bodyBytes)
                )
            case .proxy(let proxy):
                let service = services[proxy.service]!
                if let websocket = proxy.websocket {
                    return Router.Route(
                        pattern: endpoint.route,
                        handler: WebSocketProxyEndpoint(
                            route: endpoint.route,
                            service: service,
                            target: CompiledTemplate(proxy.path),
                            headTimeout: proxy.timeout ?? service.timeout,
                            spec: websocket,
                            allowedOrigins: spec.edge.cors?.origins
                        ),
                        admission: admission(route: endpoint.route, auth: endpoint.auth, limits: endpoint.rateLimits, bodyLimit: 0)
                    )
                }
                return Router.Route(
                    pattern: endpoint.route,
                    handler: ProxyEndpoint(
                        route: endpoint.route,
                        service: service,
                        target: CompiledTemplate(proxy.path),
                        headTimeout: proxy.timeout ?? service.timeout,
                        transport: transport,
                        deadlines: spec.deadlines
                    ),
                    admission: admission(route: endpoint.route, auth: endpoint.auth, limits: endpoint.rateLimits, bodyLimit: nil)
                )
            }
        }
        var diagnostics: [SpecDiagnostic] = []
        for endpoint in swiftEndpoints {
            do {
                let (route, aggregate) = try endpoint.spec()
                let problems = SpecValidator.validate(aggregate, route: route, at: endpoint.location, services: spec.services)
                    + SpecValidator.validate(endpoint.auth, route: route, at: endpoint.location, variables: aggregate.calls.flatMap(\.path.variables), spec: spec.edge)
                    + routes.filter { $0.pattern.overlaps(route) }.map {
                        SpecDiagnostic(endpoint.location, "Swift route \(route) clashes with \($0.pattern) in \(spec.file)", hint: "remove one of them")
                    }
                guard problems.isEmpty else {
                    diagnostics += problems
                    continue
                }
                let plan = CompiledPlan(route: route, timeout: endpoint.timeout, aggregate: aggregate, services: services)
                routes.append(
                    Router.Route(
                        pattern: route,
                        handler: SwiftEndpointHandler(plan: plan, runner: runner, cache: cache, handler: endpoint.handler),
                        admission: admission(route: route, auth: endpoint.auth, limits: endpoint.rateLimits, bodyLimit: spec.edge.limits.bodyBytes)
                    )
                )
            } catch {
                diagnostics += error.diagnostics
            }
        }
        guard diagnostics.isEmpty else {
            await edge.shutdown()
            await cache?.shutdown()
            try? await group.shutdownGracefully()
            throw SpecLoadError(diagnostics)
        }
        router = Router(routes: routes)
        let requiredServices = Set(declaredCalls.filter(\.required).map(\.service))
        readiness = Readiness(required: requiredServices.sorted().compactMap { services[$0] })
        healthChecker = HealthChecker(clusters: services.keys.sorted().compactMap { services[$0] }, transport: transport, logger: self.logger)
    }

    /// Every route this server answers, for `bff routes` and start-up logs.
    public var routeDescriptions: [String] {
        router.descriptions
    }

    /// Serves until graceful shutdown: then stops accepting, reports not-ready, and lets in-flight
    /// requests finish (bounded by the service group's drain deadline).
    public func run() async throws {
        let executors = Dictionary(uniqueKeysWithValues: group.makeIterator().map { (ObjectIdentifier($0), EventLoopExecutor(eventLoop: $0)) })
        var middleware: [any RouterMiddleware<BFFRequestContext>] = [RequestIDMiddleware()]
        if let sink = options.accessLog { middleware.append(AccessLogMiddleware(sink: sink)) }
        // Without an admin listener nobody can read the metrics, so requests skip recording them.
        if options.adminListen != nil { middleware.append(MetricsMiddleware(metrics: metrics)) }
        middleware.append(SecurityHeadersMiddleware(spec: spec.edge.headers, trustedProxies: spec.edge.trustedProxies))
        if let cors = spec.edge.cors { middleware.append(CORSMiddleware(spec: cors)) }
        middleware.append(ProblemMiddleware())
        let responder = MiddlewareChain(middleware: middleware, responder: BFFResponder(router: router, readiness: readiness))
        let ingress = IngressPolicy(edge: spec.edge)
        let connections = ConnectionBudget(limit: ingress.maxConnections)
        let http1 = ingress.http1Configuration
        let fast = FastAggregations(router: router, spec: spec, accessLog: options.accessLog, metrics: options.adminListen != nil ? metrics : nil, logger: logger)
        let fastAggregations = options.fastAggregations && !fast.isEmpty ? fast : nil
        let onListening = self.onListening
        let logger = self.logger
        let name = spec.name
        let host = options.listen.host
        let tls = self.tls
        let http2 = tls != nil ? spec.http2.overTLS : spec.http2.priorKnowledge
        let drainTimeout = options.drainTimeout
        let http2Spec = spec.http2
        let summary = spec.listenerSummary
        let app = Application(
            responder: responder,
            server: HTTPServerBuilder { responder in
                ListenerChannel(
                    http1: EventLoopPinnedHTTP1Channel(
                        inner: HTTP1Channel(responder: responder, configuration: http1),
                        executors: executors,
                        ingress: ingress,
                        connections: connections,
                        fastAggregations: fastAggregations
                    ),
                    http2: http2
                        ? HTTP2Ingress(
                            responder: responder, policy: ingress, spec: http2Spec, drainTimeout: drainTimeout,
                            connections: connections, executors: executors
                        )
                        : nil,
                    tls: tls,
                    handshakeTimeout: ingress.headerTimeout,
                    idleTimeout: ingress.idleTimeout
                )
            },
            configuration: .init(address: .hostname(options.listen.host, port: options.listen.port), serverName: nil, reuseAddress: true),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? 0
                logger.notice("\(name)-bff listening on \(HostPort(host: host, port: port)) (\(summary))")
                await onListening?(port)
            },
            eventLoopGroupProvider: .shared(group),
            logger: logger
        )
        let background = edge.services + (healthChecker.clusters.isEmpty ? [] : [healthChecker]) + (cache.map { [$0.workers] } ?? [])
            + (tls.map { [$0] } ?? [])
        let admin = options.adminListen.map {
            AdminListener.application(
                address: $0, name: name, metrics: metrics, readiness: readiness, clusters: clusters,
                upstreamConnections: transport.connections, cache: cache, group: group, logger: logger,
                onListening: onAdminListening
            )
        }
        // The admin listener is shut down gracefully once the public one has drained (cancelling
        // it instead makes Hummingbird log errors on every clean exit); background work is cancelled.
        let adminGroup = admin.map { ServiceGroup(configuration: ServiceGroupConfiguration(services: [.init(service: $0)], logger: logger)) }
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            for service in background {
                tasks.addTask { try await service.run() }
            }
            try await withThrowingTaskGroup(of: Void.self) { listeners in
                if let adminGroup {
                    listeners.addTask { try await adminGroup.run() }
                }
                try await withGracefulShutdownHandler {
                    try await app.run()
                } onGracefulShutdown: {
                    self.readiness.startDraining()
                }
                await adminGroup?.triggerGracefulShutdown()
                try await listeners.waitForAll()
            }
            tasks.cancelAll()
        }
        await edge.shutdown()
        await cache?.shutdown()
        await transport.shutdown()
    }

    /// Runs as the only service of a group that drains on SIGTERM or SIGINT, then exits.
    ///
    /// The first signal turns `/ready` to 503 at once; the server keeps accepting for
    /// `options.preDrain`, then stops accepting and gives in-flight requests `options.drainTimeout`.
    public func runUntilSignalled() async throws {
        var configuration = ServiceGroupConfiguration(services: [.init(service: self)], logger: logger)
        configuration.maximumGracefulShutdownDuration = .nanoseconds(options.drainTimeout.nanosecondsValue)
        let services = ServiceGroup(configuration: configuration)
        let signals = await UnixSignalsSequence(trapping: .sigterm, .sigint)
        let hangups = await UnixSignalsSequence(trapping: .sighup)
        let preDrain = options.preDrain
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { [logger, name = spec.name] in
                for await _ in hangups {
                    if self.reloadCertificate() == nil {
                        logger.notice("\(name)-bff received SIGHUP: nothing to reload (the spec has no tls:)")
                    }
                }
            }
            tasks.addTask { [readiness, logger, name = spec.name] in
                for await signal in signals {
                    readiness.startDraining()
                    logger.notice("\(name)-bff received \(signal): /ready answers 503; still accepting for \(preDrain), then draining")
                    try await Task.sleep(for: preDrain)
                    await services.triggerGracefulShutdown()
                    return
                }
            }
            try await services.run()
            tasks.cancelAll()
        }
        try await shutdownEventLoops()
    }

    /// Re-reads the TLS certificate, key and client CAs now, as SIGHUP does; connections accepted
    /// from then on handshake with them.
    /// - Returns: whether the new files were taken (a refused rotation keeps the old certificate and
    ///   is logged); nil when the server has no `tls:`.
    @discardableResult
    public func reloadCertificate() -> Bool? {
        tls?.reload(reason: "SIGHUP")
    }

    /// Releases a server that was never run (e.g. one built only to validate): its edge and cache
    /// clients and event loops.
    public func discard() async {
        await edge.shutdown()
        await cache?.shutdown()
        try? await group.shutdownGracefully()
    }

    /// Stops the event loops; call once `run` has returned.
    public func shutdownEventLoops() async throws {
        try await group.shutdownGracefully()
    }
}

extension Router {
    var descriptions: [String] {
        routesInOrder.map { "\($0.pattern.method) \($0.pattern.path)" }
    }
}
