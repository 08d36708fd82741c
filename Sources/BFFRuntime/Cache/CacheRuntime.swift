import BFFSpec
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import Prometheus

/// How a cache look-up was answered, as `bff_cache_requests_total` counts it: exactly one per look-up.
enum CacheResult: String, CaseIterable, Sendable {
    /// A fresh stored answer, the service not asked.
    case hit
    /// Nothing usable stored: this request's fetch went to the service.
    case miss
    /// Nothing usable stored, and a fetch for the same key was already in flight: this request shared it.
    case coalesced
    /// A stored answer past its freshness was served: while it was refreshed in the background
    /// (`stale_while_revalidate`), or in place of a failed call (`stale_if_error`).
    case stale
}

/// Everything one BFF caches with, built once per server: the store shared by every call and
/// endpoint cache (in this process, bounded by bytes, or in a Redis the BFF's replicas share), the
/// coalescer that turns concurrent misses into one request (per process), and the workers its
/// shared fetches and background refreshes run on (a service of the server's group).
final class CacheRuntime: Sendable {
    let store: any CacheStore
    let workers: CacheWorkers
    let credentials: CredentialHeaders
    private let coalescer: RequestCoalescer<CallOutcome>
    private let metrics: BFFMetrics
    private let group: any EventLoopGroup

    /// - Parameters:
    ///   - bff: the BFF's name, which keeps its keys apart from other BFFs on a shared Redis.
    ///   - group: where timers run for waiters that come without an event loop of their own, and
    ///     where the Redis store's connections live (opened on first use).
    ///   - environment: where `BFF_REDIS_PASSWORD` is read.
    init(
        spec: CacheStoreSpec,
        bff: String,
        apiKeyHeader: String?,
        metrics: BFFMetrics,
        group: any EventLoopGroup,
        environment: [String: String] = ProcessInfo.processInfo.environment,
        logger: Logger
    ) {
        if let url = spec.redis {
            let configuration = RedisCacheStore.configuration(url: url, environment: environment, maxBytes: spec.maxBytes)
            let client = RedisClient(configuration: configuration.allowing(spec.timeout), group: group, logger: logger)
            store = RedisCacheStore(client: client, bff: bff, maxBytes: spec.maxBytes, timeout: spec.timeout, errors: metrics.cacheStoreErrors, logger: logger)
        } else {
            let gauge = metrics.cacheBytes
            store = ResponseCache(maxBytes: spec.maxBytes, onBytesChanged: { gauge.set(Int64($0)) })
        }
        workers = CacheWorkers()
        coalescer = RequestCoalescer(workers: workers)
        credentials = CredentialHeaders(apiKeyHeader: apiKeyHeader)
        self.metrics = metrics
        self.group = group
    }

    /// Closes the store's connections.
    func shutdown() async {
        await store.shutdown()
    }

    /// Whose answers a request reads and stores under `cache`, or nil when it must bypass the cache.
    func scope(of inputs: RequestInputs, cache: CacheSpec) -> CacheScope? {
        CacheScope(principal: inputs.principal, carriesCredentials: credentials.present(in: inputs.headers), shared: cache.shared)
    }

    func record(_ result: CacheResult) {
        metrics.recordCache(result)
    }

    // MARK: Calls

    /// Runs one call through its `cache:`: a fresh stored answer is served at once; a miss joins or
    /// starts the one shared fetch for its key and stores what may be stored; a failed call is
    /// answered from the last good copy while `stale_if_error` allows; an answer within
    /// `stale_while_revalidate` is served while a background request refreshes it.
    ///
    /// Requests whose headers to the service carry credentials (`Authorization`, the API key
    /// header, `Cookie`), or whose caller's credentials were not verified, bypass the cache unless
    /// it is `shared`.
    ///
    /// - Parameters:
    ///   - headers: the request to the service's headers (`Vary` is matched against them).
    ///   - timeout: the call's own timeout, the deadline of a background refresh.
    ///   - fetch: the call itself, given the deadline to keep; it must never outlive that deadline.
    func call(
        service: String,
        target: String,
        headers: HTTPHeaders,
        cache: CacheSpec,
        inputs: RequestInputs,
        deadline: NIODeadline,
        timeout: Duration,
        fallback: JSONValue?,
        parse: Bool,
        eventLoop: (any EventLoop)?,
        fetch: @escaping @Sendable (NIODeadline) async -> CallOutcome
    ) async -> CallOutcome {
        guard let scope = scope(of: inputs, cache: cache), cache.shared || !credentials.present(in: headers) else {
            return await fetch(deadline)
        }
        let started = NIODeadline.now()
        func elapsed() -> Double { Double((NIODeadline.now() - started).nanoseconds) / 1e6 }
        let primaryKey = CacheKey.call(service: service, target: target, vary: [], scope: scope)
        var key = primaryKey
        var stored: CachedResponse?
        let lookup = await store.lookup(primaryKey)
        switch lookup.entry {
        case .response(let response):
            stored = response
        case .variants(let names):
            key = CacheKey.call(service: service, target: target, vary: CacheKey.varyValues(names, in: headers), scope: scope)
            if case .response(let response) = await store.lookup(key).entry { stored = response }
        case nil:
            break
        }
        let age = stored.map { $0.age(at: store.currentTime) } ?? .zero
        let freshness = stored?.freshness(at: age)
        if let stored, freshness == .fresh {
            record(.hit)
            return Self.served(stored, age: age, as: .cache, milliseconds: elapsed(), parse: parse, failure: nil)
        }
        let fetchKey = key + " ~ " + Self.fingerprint(headers)
        let storeAnswer = storing(service: service, target: target, headers: headers, cache: cache, primaryKey: primaryKey, scope: scope, generation: lookup.generation)
        if let stored, freshness == .revalidate {
            record(.stale)
            let refreshDeadline = NIODeadline.now() + .nanoseconds(timeout.nanosecondsValue)
            coalescer.refresh(fetchKey, deadline: refreshDeadline) { await storeAnswer(await fetch(refreshDeadline)) }
            return Self.served(stored, age: age, as: .cache, milliseconds: elapsed(), parse: parse, failure: nil)
        }
        let (wait, joined) = await coalescer.value(for: fetchKey, deadline: deadline, eventLoop: eventLoop ?? group.next()) {
            await storeAnswer(await fetch(deadline))
        }
        var outcome: CallOutcome
        switch wait {
        case .value(let shared):
            outcome = shared
            outcome.milliseconds = elapsed()
            if !outcome.succeeded {
                outcome.value = fallback ?? .null
            } else if parse, outcome.value == nil, let body = outcome.body {
                outcome.value = body.withUnsafeReadableBytes { try? JSONParser.parse($0) }
            }
        case .cancelled:
            outcome = .failed(.cancelled, milliseconds: elapsed(), fallback: fallback, reason: "cancelled while waiting for a shared fetch from service '\(service)'")
        case .timedOut:
            outcome = .failed(.timeout, milliseconds: elapsed(), fallback: fallback, reason: "deadline passed while waiting for a shared fetch from service '\(service)'")
        }
        // A cancelled call has no one to answer; every other failure is what stale_if_error is for.
        if !outcome.succeeded, outcome.status != .cancelled, let stored {
            let age = stored.age(at: store.currentTime)
            if stored.freshness(at: age) != .expired {
                record(.stale)
                return Self.served(stored, age: age, as: .stale, milliseconds: elapsed(), parse: parse, failure: outcome)
            }
        }
        record(joined ? .coalesced : .miss)
        return outcome
    }

    /// What a fetch does with its answer before handing it to its waiters: stores it when the
    /// rules allow, under the key its `Vary` asks for. A purge after `generation` was read wins.
    private func storing(
        service: String,
        target: String,
        headers: HTTPHeaders,
        cache: CacheSpec,
        primaryKey: String,
        scope: CacheScope,
        generation: UInt64
    ) -> @Sendable (CallOutcome) async -> CallOutcome {
        { [store] outcome in
            guard outcome.succeeded, let body = outcome.body, let answer = outcome.responseHeaders?.headers,
                let (lifetime, age) = StoragePolicy.lifetime(of: answer, spec: cache), let vary = CacheKey.varyNames(answer)
            else { return outcome }
            let response = CachedResponse(status: outcome.http ?? 200, body: body, storedAt: store.currentTime - .nanoseconds(age.nanosecondsValue), lifetime: lifetime)
            if vary.isEmpty {
                await store.store(response, under: primaryKey, vary: nil, generation: generation)
            } else {
                let key = CacheKey.call(service: service, target: target, vary: CacheKey.varyValues(vary, in: headers), scope: scope)
                await store.store(response, under: key, vary: VaryMarker(primaryKey: primaryKey, names: vary), generation: generation)
            }
            return outcome
        }
    }

    /// A call's outcome from a stored answer: a hit (`source` cache), or a stale copy standing in
    /// for `failure`, whose status and HTTP code it keeps so the section still reads as degraded.
    private static func served(_ stored: CachedResponse, age: Duration, as source: CallSource, milliseconds: Double, parse: Bool, failure: CallOutcome?) -> CallOutcome {
        var outcome = failure ?? .ok(http: stored.status, milliseconds: milliseconds, body: stored.body, value: nil)
        outcome.milliseconds = milliseconds
        outcome.source = source
        outcome.body = stored.body
        outcome.value = parse ? stored.body.withUnsafeReadableBytes { try? JSONParser.parse($0) } : nil
        outcome.ageSeconds = CachedResponse.seconds(age)
        if failure == nil { outcome.attempts = 0 }
        return outcome
    }

    /// The request's headers but its id, sorted: requests that may share one fetch must send the
    /// same headers, whatever the service's `Vary` turns out to say.
    private static func fingerprint(_ headers: HTTPHeaders) -> String {
        headers.filter { $0.name.lowercased() != "x-request-id" }
            .map { "\($0.name.lowercased()):\($0.value)" }
            .sorted()
            .joined(separator: "\n")
    }
}
