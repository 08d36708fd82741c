import BFFProto
import BFFSpec
import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// What one spec compiles to: its router and plans, the middleware chain around them, the
/// event-loop aggregation routes, and the parts with state (service clusters, transport, edge,
/// cache). A request reads the generation once and finishes on it; a reload compiles the next one
/// beside it and swaps it in (``GenerationSlot``).
///
/// Compiling with the previous generation keeps each stateful part whose definition did not change
/// (compared by ``SpecFingerprint``, which ignores lines): a service's cluster (instances, breakers,
/// outlier and health state), the transport and its pools, the edge (JWT keys, API keys) or at least
/// its rate limiter's counts, the cache and its entries.
final class ServerGeneration: Sendable {
    /// 1 for the spec the server started with, then one more per applied reload.
    let number: Int
    let spec: ClientSpec
    let loadedAt: Date
    let clusters: [String: ServiceCluster]
    let transport: UpstreamTransport
    let edge: EdgeRuntime
    let cache: CacheRuntime?
    /// Spans and trace context, when the spec has `tracing:`.
    let tracer: RequestTracer?
    let router: Router
    let healthChecker: HealthChecker
    /// The services required calls need, for readiness.
    let required: [ServiceCluster]
    /// The middleware chain around the router, for requests that take Hummingbird's path.
    let responder: MiddlewareChain
    /// The aggregation routes answered on the event loop; nil when none qualify or that path is off.
    let fast: FastAggregations?
    /// What each reusable part was made from; equal keys mean the part carries over.
    let keys: Keys

    struct Keys: Sendable {
        var clusters: [String: String] = [:]
        var transport = ""
        var edge = ""
        var limiter = ""
        var cache = ""
        var tracing = ""
        var endpoints: [String: String] = [:]
    }

    /// What a compile kept and rebuilt, for the reload's answer and log.
    struct Carried: Sendable {
        var servicesKept: [String] = []
        var servicesRebuilt: [String] = []
        var limiterKept = false
        var cacheKept = false
        /// Route patterns whose endpoint changed, whose cached answers a kept cache must drop.
        var changedEndpoints: [String] = []
    }

    private init(
        number: Int, spec: ClientSpec, clusters: [String: ServiceCluster], transport: UpstreamTransport, edge: EdgeRuntime,
        cache: CacheRuntime?, tracer: RequestTracer?, router: Router, healthChecker: HealthChecker, required: [ServiceCluster], responder: MiddlewareChain,
        fast: FastAggregations?, keys: Keys
    ) {
        self.number = number
        self.spec = spec
        self.loadedAt = Date()
        self.clusters = clusters
        self.transport = transport
        self.edge = edge
        self.cache = cache
        self.tracer = tracer
        self.router = router
        self.healthChecker = healthChecker
        self.required = required
        self.responder = responder
        self.fast = fast
        self.keys = keys
    }

    /// Compiles `spec` and `swiftEndpoints`, reading the credentials the spec names, and keeping
    /// from `previous` every part whose definition is unchanged.
    /// - Throws: ``SpecLoadError`` when the spec's files (descriptor sets, CA files, keys) or a Swift
    ///   endpoint are unusable; whatever this compile created is released first, nothing of `previous` is.
    static func compile(
        spec: ClientSpec,
        swiftEndpoints: [SwiftEndpoint],
        options: ServerOptions,
        group: any EventLoopGroup,
        metrics: BFFMetrics,
        readiness: Readiness,
        logger: Logger,
        validateOnly: Bool = false,
        previous: ServerGeneration? = nil
    ) async throws(SpecLoadError) -> (ServerGeneration, Carried) {
        var keys = Keys()
        var carried = Carried()
        let grpcPools = try BFFServer.grpcPools(for: spec)
        // Every call the server will make, YAML and Swift; what services must track follows from them.
        let declaredCalls = spec.endpoints.flatMap { endpoint -> [CallSpec] in
            guard case .aggregate(let aggregate) = endpoint.kind else { return [] }
            return aggregate.calls
        } + swiftEndpoints.flatMap { (try? $0.spec())?.1.calls ?? [] }
        let hedgedAfterP95 = Set(declaredCalls.filter { $0.hedge?.after == .p95 }.map(\.service))
        var services: [String: ServiceCluster] = [:]
        for (name, service) in spec.services {
            let tracksLatency = hedgedAfterP95.contains(name)
            let key = SpecFingerprint.of(service) + "|p95=\(tracksLatency)|" + Self.stamps(service.grpc.map { [$0.descriptorSet] } ?? [])
            keys.clusters[name] = key
            if let previous, previous.keys.clusters[name] == key, let kept = previous.clusters[name] {
                services[name] = kept
                carried.servicesKept.append(name)
            } else {
                services[name] = ServiceCluster(spec: service, metrics: metrics, tracksLatency: tracksLatency, grpc: grpcPools[name])
                if previous != nil { carried.servicesRebuilt.append(name) }
            }
        }
        carried.servicesKept.sort()
        carried.servicesRebuilt.sort()
        let endpoints = services.values.flatMap { $0.instances.map(\.endpoint) }
        keys.transport = Self.stamps(Set(endpoints.compactMap(\.caFile)).sorted())
        let transport: UpstreamTransport
        if let previous, previous.keys.transport == keys.transport, previous.transport.covers(endpoints) {
            transport = previous.transport
        } else {
            do {
                transport = try UpstreamTransport(group: group, services: endpoints)
            } catch {
                let tlsServices = spec.services.values.filter { $0.caFile != nil }
                throw SpecLoadError(tlsServices.map { SpecDiagnostic($0.location, "service '\($0.name)': ca_file is not a PEM certificate file", hint: "give a PEM file of CA certificates") })
            }
        }
        // What this compile made; released if a later step fails.
        func releaseNew(edge: EdgeRuntime? = nil, cache: CacheRuntime? = nil) async {
            if let edge, edge !== previous?.edge { await edge.shutdown(keepingLimiter: edge.limiter != nil && edge.limiter === previous?.edge.limiter) }
            if let cache, cache !== previous?.cache { await cache.shutdown() }
            if transport !== previous?.transport { await transport.shutdown() }
        }
        let runner = CallRunner(transport: transport, deadlines: spec.deadlines)
        let caches = spec.endpoints.contains { endpoint in
            if endpoint.cache != nil { return true }
            guard case .aggregate(let aggregate) = endpoint.kind else { return false }
            return aggregate.calls.contains { $0.cache != nil }
        } || swiftEndpoints.contains { $0.calls.contains { $0.cache != nil } }
        keys.cache = caches ? SpecFingerprint.of(spec.cacheStore) + "|" + spec.name + "|" + (spec.edge.auth?.apiKeys?.header ?? "") : ""
        for endpoint in spec.endpoints {
            keys.endpoints["\(endpoint.route.method) \(endpoint.route.path)"] = SpecFingerprint.of(endpoint)
        }
        // A Redis store connects on first use, so `bff validate` never reaches out to it.
        let cache: CacheRuntime?
        if !caches {
            cache = nil
        } else if let previous, let kept = previous.cache, previous.keys.cache == keys.cache {
            cache = kept
            carried.cacheKept = true
            carried.changedEndpoints = keys.endpoints.keys.filter { previous.keys.endpoints[$0] != nil && previous.keys.endpoints[$0] != keys.endpoints[$0] }.sorted()
        } else {
            cache = CacheRuntime(spec: spec.cacheStore, bff: spec.name, apiKeyHeader: spec.edge.auth?.apiKeys?.header, metrics: metrics, group: group, logger: logger)
        }
        let executor = FanOutExecutor(runner: runner, cache: cache)
        let limited = !spec.edge.rateLimits.limits.isEmpty || !spec.edge.plans.isEmpty || spec.endpoints.contains { !$0.rateLimits.isEmpty }
            || swiftEndpoints.contains { !$0.rateLimits.isEmpty }
        keys.limiter = limited ? SpecFingerprint.of(spec.edge.rateLimits) + "|" + spec.name : ""
        keys.edge = SpecFingerprint.of(spec.edge) + "|" + spec.name + "|limited=\(limited)|" + Self.stamps(Self.credentialFiles(spec.edge))
        let edge: EdgeRuntime
        if let previous, previous.keys.edge == keys.edge {
            edge = previous.edge
            carried.limiterKept = edge.limiter != nil
        } else {
            let keptLimiter = previous.flatMap { $0.keys.limiter == keys.limiter ? $0.edge.limiter : nil }
            carried.limiterKept = keptLimiter != nil
            do {
                edge = try await EdgeRuntime(
                    spec: spec,
                    limited: limited,
                    loadCredentials: !validateOnly,
                    group: group,
                    storeErrors: metrics.rateLimitStoreErrors,
                    reusing: keptLimiter,
                    logger: logger
                )
            } catch {
                await releaseNew(cache: cache)
                throw error
            }
        }
        keys.tracing = spec.tracing.map { SpecFingerprint.of($0) + "|" + spec.name + "|" + SpecFingerprint.of(spec.edge.trustedProxies) } ?? ""
        let tracer: RequestTracer?
        if let previous, previous.keys.tracing == keys.tracing {
            tracer = previous.tracer
        } else if let tracing = spec.tracing, !validateOnly {
            do {
                tracer = try RequestTracer(spec: tracing, bff: spec.name, trustedProxies: spec.edge.trustedProxies, logger: logger)
            } catch {
                await releaseNew(edge: edge, cache: cache)
                throw error
            }
        } else {
            tracer = nil
        }
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
                            allowedOrigins: spec.edge.cors?.origins,
                            forwarding: ProxyForwarding(proxy: proxy, auth: endpoint.auth, edge: spec.edge)
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
                        deadlines: spec.deadlines,
                        forwarding: ProxyForwarding(proxy: proxy, auth: endpoint.auth, edge: spec.edge)
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
            await releaseNew(edge: edge, cache: cache)
            throw SpecLoadError(diagnostics)
        }
        let router = Router(routes: routes)
        let requiredServices = Set(declaredCalls.filter(\.required).map(\.service))
        let checked = services.keys.sorted().compactMap { services[$0] }
        let healthChecker: HealthChecker
        if let previous, previous.healthChecker.clusters.elementsEqual(checked, by: ===), previous.transport === transport {
            healthChecker = previous.healthChecker
        } else {
            healthChecker = HealthChecker(clusters: checked, transport: transport, logger: logger)
        }
        var middleware: [any RouterMiddleware<BFFRequestContext>] = [RequestIDMiddleware()]
        if let tracer { middleware.append(TracingMiddleware(tracer: tracer)) }
        if let sink = options.accessLog { middleware.append(AccessLogMiddleware(sink: sink)) }
        // Without an admin listener nobody can read the metrics, so requests skip recording them.
        if options.adminListen != nil { middleware.append(MetricsMiddleware(metrics: metrics)) }
        middleware.append(SecurityHeadersMiddleware(spec: spec.edge.headers, trustedProxies: spec.edge.trustedProxies))
        if let cors = spec.edge.cors { middleware.append(CORSMiddleware(spec: cors)) }
        middleware.append(ProblemMiddleware())
        let responder = MiddlewareChain(middleware: middleware, responder: BFFResponder(router: router, readiness: readiness))
        let fast = FastAggregations(
            router: router, spec: spec, accessLog: options.accessLog, metrics: options.adminListen != nil ? metrics : nil, tracer: tracer, logger: logger
        )
        let generation = ServerGeneration(
            number: (previous?.number ?? 0) + 1,
            spec: spec,
            clusters: services,
            transport: transport,
            edge: edge,
            cache: cache,
            tracer: tracer,
            router: router,
            healthChecker: healthChecker,
            required: requiredServices.sorted().compactMap { services[$0] },
            responder: responder,
            fast: options.fastAggregations && !fast.isEmpty ? fast : nil,
            keys: keys
        )
        return (generation, carried)
    }

    /// The background work of each part this generation has that `previous` did not: JWKS refresh
    /// and keys-file reload (edge), shared fetches and refreshes (cache), health checks, span export.
    func newServices(since previous: ServerGeneration?) -> (edge: [any Service], cache: [any Service], health: [any Service], tracing: [any Service]) {
        (
            edge: edge === previous?.edge ? [] : edge.services,
            cache: cache == nil || cache === previous?.cache ? [] : [cache!.workers],
            health: healthChecker.clusters.isEmpty || healthChecker === previous?.healthChecker ? [] : [healthChecker],
            tracing: tracer == nil || tracer === previous?.tracer ? [] : [tracer!.service]
        )
    }

    /// Releases what this generation holds that `next` does not keep: the edge's connections (not a
    /// limiter `next` carries over), the cache's store, the transport's pools.
    func release(keptBy next: ServerGeneration?) async {
        if edge !== next?.edge { await edge.shutdown(keepingLimiter: edge.limiter != nil && edge.limiter === next?.edge.limiter) }
        if let cache, cache !== next?.cache { await cache.shutdown() }
        if transport !== next?.transport { await transport.shutdown() }
    }

    /// The files the edge reads credentials from: JWT secrets and PEM keys, the API keys file.
    static func credentialFiles(_ edge: EdgeSpec) -> [String] {
        var files: [String] = []
        for key in edge.auth?.jwt?.keys ?? [] {
            switch key.material {
            case .secretFile(let path), .pemFile(let path): files.append(path)
            default: break
            }
        }
        if let file = edge.auth?.apiKeys?.file { files.append(file) }
        if let ca = edge.auth?.jwt?.jwks?.caFile { files.append(ca) }
        return files
    }

    /// Every file a generation of `spec` reads, for `--watch`: the spec, its includes, credential
    /// files, CA files and descriptor sets.
    static func watchedFiles(_ spec: ClientSpec) -> [String] {
        var files = [spec.file] + spec.includedFiles + credentialFiles(spec.edge)
        for service in spec.services.values {
            if let ca = service.caFile { files.append(ca) }
            if let grpc = service.grpc { files.append(grpc.descriptorSet) }
        }
        return Array(Set(files)).sorted()
    }

    /// The stamps of `files`, as text; part of a key so that a part reading a changed file is rebuilt.
    private static func stamps(_ files: [String]) -> String {
        files.map { path in
            let stamp = FileStamp(path: path)
            return "\(path)@\(stamp.modified?.timeIntervalSince1970 ?? 0)/\(stamp.size ?? -1)/\(stamp.inode ?? -1)"
        }.joined(separator: ";")
    }
}

/// The generation requests are served by now; swapped whole by a reload.
final class GenerationSlot: Sendable {
    private let current: Mutex<ServerGeneration>

    init(_ generation: ServerGeneration) {
        current = Mutex(generation)
    }

    var generation: ServerGeneration { current.withLock { $0 } }

    /// Puts `next` in place and returns the generation it replaced.
    func swap(to next: ServerGeneration) -> ServerGeneration {
        current.withLock { current in
            let previous = current
            current = next
            return previous
        }
    }
}

/// Hummingbird's responder for the public listener: the middleware chain of the generation serving
/// when the request arrived.
struct ReloadingResponder: HTTPResponder {
    typealias Context = BFFRequestContext
    let slot: GenerationSlot

    func respond(to request: Request, context: Context) async throws -> Response {
        try await slot.generation.responder.respond(to: request, context: context)
    }
}
