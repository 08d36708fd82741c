public import BFFSpec
import Hummingbird
import HummingbirdCore
public import Logging
import NIOCore
import NIOPosix
import Prometheus
public import ServiceLifecycle
import Synchronization
import UnixSignals
import Foundation

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
    /// The spec serving now (a reload replaces it).
    public var spec: ClientSpec { slot.generation.spec }
    public let options: ServerOptions
    private let group: MultiThreadedEventLoopGroup
    /// The compiled spec requests are served by; a reload swaps it.
    private let slot: GenerationSlot
    /// The spec the listeners were built from: what a reload cannot change is compared with it.
    private let startSpec: ClientSpec
    private let swiftEndpoints: [SwiftEndpoint]
    /// Where a reload reads the spec again; nil when the spec has no file.
    private let source: SpecSource?
    private let readiness: Readiness
    private let background: BackgroundWork
    /// The background jobs of each part now running, by the part's identity.
    private let jobs = Mutex<[ObjectIdentifier: BackgroundWork.Job]>([:])
    private let reloads = Turnstile()
    private let lastReload = Mutex<ReloadOutcome?>(nil)
    /// The public listener's certificate when the spec has `tls:`.
    private let tls: TLSCredentials?
    private let metrics = BFFMetrics()
    private let logger: Logger
    private let onListening: (@Sendable (Int) async -> Void)?
    private let onAdminListening: (@Sendable (Int) async -> Void)?

    /// Reads a spec again for a reload; it throws ``SpecLoadError`` for a spec that does not load.
    public typealias SpecSource = @Sendable () throws -> ClientSpec

    /// Compiles `spec` and `swiftEndpoints`, and reads the credentials the spec names (JWT secrets
    /// and keys, the API keys file).
    /// - Parameters:
    ///   - reloadFrom: how a reload (SIGHUP, `POST /admin/reload`, `--watch`) reads the spec again;
    ///     by default the spec's file, when it is one on disk.
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
        reloadFrom source: SpecSource? = nil,
        onListening: (@Sendable (Int) async -> Void)? = nil,
        onAdminListening: (@Sendable (Int) async -> Void)? = nil
    ) async throws(SpecLoadError) {
        self.options = options
        let logger = logger ?? Logger(label: "bff.\(spec.name)")
        self.logger = logger
        self.onListening = onListening
        self.onAdminListening = onAdminListening
        self.startSpec = spec
        self.swiftEndpoints = swiftEndpoints
        let file = spec.file
        self.source = source ?? (FileManager.default.fileExists(atPath: file) ? { @Sendable () throws(SpecLoadError) -> ClientSpec in try SpecLoader.load(file: file) } : nil)
        tls = try spec.tls.map { tls throws(SpecLoadError) in try TLSCredentials(spec: tls, offerHTTP2: spec.http2.overTLS, logger: logger) }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: options.threads)
        self.group = group
        let readiness = Readiness()
        self.readiness = readiness
        background = BackgroundWork(logger: logger)
        do {
            let (generation, _) = try await ServerGeneration.compile(
                spec: spec, swiftEndpoints: swiftEndpoints, options: options, group: group, metrics: metrics,
                readiness: readiness, logger: logger, validateOnly: validateOnly
            )
            readiness.require(generation.required)
            slot = GenerationSlot(generation)
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
    }

    /// Every route this server answers, for `bff routes` and start-up logs.
    public var routeDescriptions: [String] {
        slot.generation.router.descriptions
    }

    /// The last reload's outcome; nil before the first.
    public var lastReloadOutcome: ReloadOutcome? {
        lastReload.withLock { $0 }
    }

    /// Serves until graceful shutdown: then stops accepting, reports not-ready, and lets in-flight
    /// requests finish (bounded by the service group's drain deadline).
    public func run() async throws {
        let executors = Dictionary(uniqueKeysWithValues: group.makeIterator().map { (ObjectIdentifier($0), EventLoopExecutor(eventLoop: $0)) })
        let responder = ReloadingResponder(slot: slot)
        // The listener's limits and forwarding trust are the start-up spec's; a reload reports changes to them.
        let ingress = IngressPolicy(edge: startSpec.edge)
        let connections = ConnectionBudget(limit: ingress.maxConnections)
        let http1 = ingress.http1Configuration
        let fastAggregations = options.fastAggregations ? slot : nil
        let onListening = self.onListening
        let logger = self.logger
        let name = startSpec.name
        let host = options.listen.host
        let tls = self.tls
        let http2 = tls != nil ? startSpec.http2.overTLS : startSpec.http2.priorKnowledge
        let drainTimeout = options.drainTimeout
        let http2Spec = startSpec.http2
        let summary = startSpec.listenerSummary
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
        startBackground(of: slot.generation, since: nil)
        if let tls { background.start([tls]) }
        let admin = options.adminListen.map {
            AdminListener.application(
                address: $0, name: name, metrics: metrics, readiness: readiness, server: self, group: group, logger: logger,
                onListening: onAdminListening
            )
        }
        // The admin listener is shut down gracefully once the public one has drained (cancelling
        // it instead makes Hummingbird log errors on every clean exit); background work is cancelled.
        let adminGroup = admin.map { ServiceGroup(configuration: ServiceGroupConfiguration(services: [.init(service: $0)], logger: logger)) }
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { await self.background.run() }
            if let interval = options.watchInterval {
                tasks.addTask { await self.watch(every: interval) }
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
            // The spans of the last requests go out before the exporter is stopped (bounded).
            if let tracer = slot.generation.tracer {
                tracer.flush()
                try? await Task.sleep(for: .milliseconds(300))
            }
            tasks.cancelAll()
        }
        // Retired generations released their parts as the background work ended; this releases the last.
        await reloads.withTurn { await self.slot.generation.release(keptBy: nil) }
    }

    /// Runs as the only service of a group that drains on SIGTERM or SIGINT, then exits; SIGHUP
    /// reloads the spec (and the TLS certificate).
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
            tasks.addTask {
                for await _ in hangups {
                    await self.reload(reason: "SIGHUP")
                }
            }
            tasks.addTask { [readiness, logger, name = startSpec.name] in
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

    /// Reads the spec again, validates and compiles it, and swaps it in: requests in flight finish on
    /// the spec they started with, new ones see the new one. What did not change carries over (a
    /// service's pools, breakers and health, the rate limiter's counts, the cache); the parts
    /// replaced are released once requests have had `drainTimeout` to finish. A spec that does not
    /// load is refused whole and the old one keeps serving. The TLS certificate is read again too.
    ///
    /// Reloads run one at a time, in the order asked.
    @discardableResult
    public func reload(reason: String) async -> ReloadOutcome {
        await reloads.withTurn { await self.reloadNow(reason: reason) }
    }

    private func reloadNow(reason: String) async -> ReloadOutcome {
        let started = ContinuousClock.now
        let current = slot.generation
        var outcome = ReloadOutcome(result: .invalid, reason: reason, generation: current.number, at: Date())
        func finish() -> ReloadOutcome {
            outcome.milliseconds = Double((ContinuousClock.now - started).nanosecondsValue) / 1e6
            metrics.specReloads[outcome.result]?.increment()
            metrics.specGeneration.set(Int64(slot.generation.number))
            lastReload.withLock { $0 = outcome }
            return outcome
        }
        let name = startSpec.name
        tls?.reload(reason: reason)
        guard let source else {
            outcome.result = .unavailable
            outcome.message = "the spec was not loaded from a file, so there is nothing to read again"
            logger.notice("\(name)-bff reload (\(reason)): \(outcome.message)")
            return finish()
        }
        let next: ClientSpec
        let generation: ServerGeneration
        let carried: ServerGeneration.Carried
        do {
            next = try source()
            (generation, carried) = try await ServerGeneration.compile(
                spec: next, swiftEndpoints: swiftEndpoints, options: options, group: group, metrics: metrics,
                readiness: readiness, logger: logger, previous: current
            )
        } catch let error as SpecLoadError {
            outcome.diagnostics = error.diagnostics
            outcome.message = "the new spec was refused (\(error.diagnostics.count) problem\(error.diagnostics.count == 1 ? "" : "s")); generation \(current.number) keeps serving"
            logger.error("\(name)-bff reload (\(reason)): \(outcome.message)\n\(error.description)")
            return finish()
        } catch {
            outcome.message = "the new spec was refused: \(error); generation \(current.number) keeps serving"
            logger.error("\(name)-bff reload (\(reason)): \(outcome.message)")
            return finish()
        }
        _ = slot.swap(to: generation)
        readiness.require(generation.required)
        startBackground(of: generation, since: current)
        if current.healthChecker !== generation.healthChecker { stopJob(of: current.healthChecker) }
        if let cache = generation.cache, !carried.changedEndpoints.isEmpty {
            // A kept cache still holds answers composed by the old definitions of changed endpoints.
            for route in carried.changedEndpoints {
                let literal = route.prefix { $0 != "{" }
                _ = try? await cache.store.purge(prefix: "endpoint " + literal)
            }
        }
        // Requests that started on `current` get as long to finish as a drain allows.
        background.after(options.drainTimeout) { [self] in
            if current.edge !== generation.edge { stopJob(of: current.edge) }
            if let cache = current.cache, cache !== generation.cache { stopJob(of: cache) }
            if let tracer = current.tracer, tracer !== generation.tracer { stopJob(of: tracer) }
            await current.release(keptBy: generation)
        }
        outcome.result = .applied
        outcome.generation = generation.number
        outcome.restartNeeded = startSpec.restartNeeded(toApply: next)
        outcome.servicesKept = carried.servicesKept
        outcome.servicesRebuilt = carried.servicesRebuilt
        outcome.rateLimitsKept = carried.limiterKept
        outcome.cacheKept = carried.cacheKept
        var summary = "generation \(generation.number) serves \(generation.router.routesInOrder.count) routes"
        if !carried.servicesRebuilt.isEmpty { summary += "; services rebuilt: \(carried.servicesRebuilt.joined(separator: ", "))" }
        outcome.message = summary
        logger.notice("\(name)-bff reload (\(reason)): \(summary)")
        for change in outcome.restartNeeded {
            logger.warning("\(name)-bff reload (\(reason)): needs a restart: \(change)")
        }
        return finish()
    }

    /// Starts the background work of each part `generation` has that `previous` did not.
    private func startBackground(of generation: ServerGeneration, since previous: ServerGeneration?) {
        let new = generation.newServices(since: previous)
        let started: [(ObjectIdentifier, BackgroundWork.Job?)] = [
            (ObjectIdentifier(generation.edge), background.start(new.edge)),
            (generation.cache.map { ObjectIdentifier($0) } ?? ObjectIdentifier(generation), background.start(new.cache)),
            (ObjectIdentifier(generation.healthChecker), background.start(new.health)),
            (generation.tracer.map { ObjectIdentifier($0) } ?? ObjectIdentifier(generation), background.start(new.tracing)),
        ]
        jobs.withLock { jobs in
            for case (let id, let job?) in started { jobs[id] = job }
        }
    }

    private func stopJob(of part: AnyObject) {
        jobs.withLock { $0.removeValue(forKey: ObjectIdentifier(part)) }?.stop()
    }

    /// Reloads when a file the spec reads changes (`--watch`): the spec, its includes, credential
    /// files, CA files and descriptor sets, polled every `interval`. A change is taken once the
    /// files have held still for one interval, so an editor's save in several writes is one reload.
    private func watch(every interval: Duration) async {
        func stamps() -> [String: FileStamp] {
            // The TLS certificate and key are watched by their own rotation (``TLSCredentials``).
            let files = ServerGeneration.watchedFiles(slot.generation.spec)
            return Dictionary(files.map { ($0, FileStamp(path: $0)) }, uniquingKeysWith: { first, _ in first })
        }
        var seen = stamps()
        var pending: [String: FileStamp]?
        while !Task.isCancelled {
            try? await Task.sleep(for: interval)
            if Task.isCancelled { return }
            let now = stamps()
            if let changed = pending {
                if changed == now {
                    pending = nil
                    await reload(reason: "watch")
                    seen = stamps()
                } else {
                    pending = now
                }
            } else if now != seen {
                pending = now
            }
        }
    }

    /// Releases a server that was never run (e.g. one built only to validate): its edge and cache
    /// clients and event loops.
    public func discard() async {
        await slot.generation.release(keptBy: nil)
        try? await group.shutdownGracefully()
    }

    /// Stops the event loops; call once `run` has returned.
    public func shutdownEventLoops() async throws {
        try await group.shutdownGracefully()
    }

    /// The generation serving now, for the admin listener.
    var currentGeneration: ServerGeneration { slot.generation }

    /// The Swift endpoints, for the OpenAPI document.
    var swiftEndpointsForDescription: [SwiftEndpoint] { swiftEndpoints }
}

extension Router {
    var descriptions: [String] {
        routesInOrder.map { "\($0.pattern.method) \($0.pattern.path)" }
    }
}
