import BFFSpec
import NIOCore
import NIOHTTP1
import Prometheus

/// Runs one upstream call and turns whatever happens into a ``CallOutcome``: it never throws, so
/// one failing section can never fail a whole response by accident.
///
/// Around the request it applies the service's protection: an open circuit breaker fails the call
/// at once; each attempt goes to an instance chosen by the balancer; a hedged request goes to
/// another instance when the first is slow; retries (GET calls only) follow connect errors,
/// resets and 502/503/504 within the retry budget and the time left. Every attempt tells the
/// service how long it has (`X-Request-Deadline-Ms`).
struct CallRunner: Sendable {
    let transport: UpstreamTransport
    let deadlines: DeadlineSpec

    /// One request to one instance, and how it ended.
    struct Attempt: Sendable {
        var result: Result<UpstreamResponse, UpstreamError>
        var instance: Int
        var hedged = false

        /// A complete answer the caller can use (anything below 500).
        var answered: Bool {
            if case .success(let response) = result { return response.status.code < 500 }
            return false
        }

        /// Worth another try at a GET: nothing usable came back, and the failure says nothing
        /// about the request itself.
        var isRetryable: Bool {
            switch result {
            case .success(let response): return ServiceCluster.retriedStatuses.contains(response.status.code)
            case .failure(.connectFailed), .failure(.connectionClosed), .failure(.malformedResponse): return true
            case .failure: return false
            }
        }

        /// What the circuit breaker learns from it.
        var verdict: CircuitBreaker.Result {
            switch result {
            case .success(let response): return response.status.code < 500 ? .success : .failure
            case .failure(.cancelled): return .none
            case .failure: return .failure
            }
        }
    }

    /// - Parameters:
    ///   - target: the encoded path and query, relative to the service's base path.
    ///   - deadline: the earlier of the call's timeout and the endpoint's deadline.
    ///   - parse: whether to build a ``JSONValue`` (for dependents or shaping), beyond validating.
    ///   - hedge: when to send a second request to another instance.
    func run(
        service: ServiceCluster,
        target: String,
        headers: HTTPHeaders,
        deadline: NIODeadline,
        fallback: JSONValue?,
        parse: Bool,
        hedge: HedgeSpec? = nil,
        eventLoop: (any EventLoop)?
    ) async -> CallOutcome {
        let loop = transport.eventLoop(preferring: eventLoop)
        return await loop.awaitWork { completion in
            self.start(service: service, target: target, headers: headers, deadline: deadline, fallback: fallback, parse: parse, hedge: hedge, on: loop) { _, outcome in
                completion(outcome)
            }
        }
    }

    /// The callback form of ``run(service:target:headers:deadline:fallback:parse:hedge:eventLoop:)``,
    /// for the fan-out's state machine: starts the call from `eventLoop` (the caller is on it) and
    /// calls `completion` there exactly once, with `tag` (so a completion that only captures its
    /// owner costs no allocation).
    func start(
        service: ServiceCluster,
        target: String,
        headers: HTTPHeaders,
        deadline: NIODeadline,
        fallback: JSONValue?,
        parse: Bool,
        hedge: HedgeSpec?,
        grpc: GRPCRequest? = nil,
        on eventLoop: any EventLoop,
        tag: Int = 0,
        completion: @escaping (Int, CallOutcome) -> Void
    ) -> any LoopCancellable {
        var request = UpstreamRequest(method: grpc == nil ? .GET : .POST, target: target, headers: headers)
        request.grpc = grpc
        let call = CallInFlight(
            runner: self,
            service: service,
            request: request,
            deadline: deadline,
            fallback: fallback,
            parse: parse,
            hedge: hedge,
            eventLoop: eventLoop,
            tag: tag,
            completion: completion
        )
        call.begin()
        return call
    }

    /// Runs a compiled call of a plan, through `cache` when the call declares one.
    ///
    /// - Parameters:
    ///   - target: the call's path and query, rendered for this request.
    ///   - deadline: the earlier of the call's timeout and the endpoint's deadline.
    func run(
        _ call: CompiledCall,
        target: String,
        headers: HTTPHeaders,
        inputs: RequestInputs,
        deadline: NIODeadline,
        parse: Bool,
        cache: CacheRuntime?,
        eventLoop: (any EventLoop)?
    ) async -> CallOutcome {
        let fetch: @Sendable (NIODeadline) async -> CallOutcome = { deadline in
            await run(
                service: call.service,
                target: target,
                headers: headers,
                deadline: deadline,
                fallback: call.fallback,
                parse: parse,
                hedge: call.hedge,
                eventLoop: eventLoop
            )
        }
        guard let cache, let policy = call.cache else { return await fetch(deadline) }
        return await cache.call(
            service: call.service.name,
            target: target,
            headers: headers,
            cache: policy,
            inputs: inputs,
            deadline: deadline,
            timeout: call.timeout,
            fallback: call.fallback,
            parse: parse,
            eventLoop: eventLoop,
            fetch: fetch
        )
    }

    /// One attempt, raced by hedged requests to other instances when `hedge` says so: the first
    /// complete answer wins and the others are cancelled (their connections closed).
    func hedged(
        _ request: UpstreamRequest,
        to service: ServiceCluster,
        excluding tried: [Int],
        deadline: NIODeadline,
        hedge: HedgeSpec?,
        eventLoop: (any EventLoop)?
    ) async -> Attempt {
        let first = service.pick(excluding: tried)
        let delay: Duration?
        switch hedge?.after {
        case .delay(let fixed)?: delay = fixed
        case .p95?: delay = service.latency?.p95
        case nil: delay = nil
        }
        guard let hedge, let delay else {
            return await send(request, to: first, of: service, deadline: deadline, eventLoop: eventLoop)
        }
        return await withTaskGroup(of: Attempt?.self) { group in
            var launched = [first.index]
            var inFlight = 1
            group.addTask { await send(request, to: first, of: service, deadline: deadline, eventLoop: eventLoop) }
            group.addTask {
                try? await Task.sleep(for: delay)
                return nil
            }
            var settled: Attempt?
            while let next = await group.next() {
                guard let attempt = next else {
                    let minimum = Int64(deadlines.minRemaining.nanosecondsValue)
                    guard launched.count <= hedge.max, !Task.isCancelled, (deadline - .now()).nanoseconds >= minimum else { continue }
                    let extra = service.pick(excluding: tried + launched)
                    launched.append(extra.index)
                    inFlight += 1
                    service.metrics.hedges.increment()
                    group.addTask {
                        var attempt = await send(request, to: extra, of: service, deadline: deadline, eventLoop: eventLoop)
                        attempt.hedged = true
                        return attempt
                    }
                    if launched.count <= hedge.max {
                        group.addTask {
                            try? await Task.sleep(for: delay)
                            return nil
                        }
                    }
                    continue
                }
                inFlight -= 1
                if attempt.answered || inFlight == 0 {
                    settled = attempt
                    break
                }
                settled = settled ?? attempt
            }
            group.cancelAll()
            var result = settled ?? Attempt(result: .failure(.cancelled(service: service.name)), instance: first.index)
            result.hedged = result.hedged || launched.count > 1
            return result
        }
    }

    /// One request to one instance, with the time left in the deadline header; its result feeds
    /// the instance's ejection state and the service's latency window.
    private func send(
        _ request: UpstreamRequest,
        to instance: UpstreamInstance,
        of service: ServiceCluster,
        deadline: NIODeadline,
        eventLoop: (any EventLoop)?
    ) async -> Attempt {
        let started = NIODeadline.now()
        let request = prepared(request, deadline: deadline, at: started)
        instance.started()
        defer { instance.finished() }
        let result: Result<UpstreamResponse, UpstreamError>
        do {
            result = .success(try await transport.send(request, to: instance.endpoint, deadline: deadline, on: eventLoop))
        } catch {
            result = .failure(error)
        }
        return Self.attempt(result, to: instance, of: service, started: started)
    }

    /// `request` with the time left before `deadline` in the deadline header, when the BFF sends
    /// one: as its ``UpstreamRequest/lastField``, so the request's headers are not copied.
    func prepared(_ request: UpstreamRequest, deadline: NIODeadline, at now: NIODeadline) -> UpstreamRequest {
        guard let header = deadlines.header else { return request }
        var request = request
        request.lastField = (header, String(max(0, (deadline - now).nanoseconds / 1_000_000)))
        return request
    }

    /// An attempt's result, after feeding it to the instance's ejection state and the service's latency window.
    static func attempt(_ result: Result<UpstreamResponse, UpstreamError>, to instance: UpstreamInstance, of service: ServiceCluster, started: NIODeadline) -> Attempt {
        switch result {
        case .success(let response):
            let failed = response.status.code >= 500
            service.report(instance, failed: failed)
            if !failed, let latency = service.latency { latency.record(.nanoseconds((NIODeadline.now() - started).nanoseconds)) }
        case .failure(.cancelled):
            break
        case .failure:
            service.report(instance, failed: true)
        }
        return Attempt(result: result, instance: instance.index)
    }

    /// The call's outcome from its deciding attempt.
    static func outcome(of attempt: Attempt, service: String, milliseconds: Double, fallback: JSONValue?, parse: Bool) -> CallOutcome {
        let response: UpstreamResponse
        switch attempt.result {
        case .failure(let error):
            switch error {
            case .timeout:
                return .failed(.timeout, milliseconds: milliseconds, fallback: fallback, reason: error.description)
            case .cancelled:
                return .failed(.cancelled, milliseconds: milliseconds, fallback: fallback, reason: error.description)
            default:
                return .failed(.error, milliseconds: milliseconds, fallback: fallback, reason: error.description)
            }
        case .success(let answered):
            response = answered
        }
        let http = Int(response.status.code)
        guard response.isSuccess else {
            return .failed(.error, http: http, milliseconds: milliseconds, fallback: fallback, reason: "service '\(service)' answered \(http)")
        }
        do {
            let value: JSONValue? = try response.body.withUnsafeReadableBytes { bytes throws(JSONSyntaxError) in
                if parse { return try JSONParser.parse(bytes) }
                try JSONParser.validate(bytes)
                return nil
            }
            return .ok(http: http, milliseconds: milliseconds, body: response.body, value: value)
        } catch {
            return .failed(.error, http: http, milliseconds: milliseconds, fallback: fallback, reason: "service '\(service)' sent \(error)")
        }
    }
}
