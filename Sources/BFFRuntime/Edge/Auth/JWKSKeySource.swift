import AsyncHTTPClient
import BFFSpec
import Foundation
import JWTKit
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL
import ServiceLifecycle
import Synchronization

/// The identity provider's signing keys, from its JWKS URL.
///
/// Fetched with a size cap and timeout, no redirects; refreshed in the background per the
/// response's `Cache-Control: max-age` (else the spec's `refresh`). An unknown `kid` may trigger
/// an early fetch, but at most one per `min_interval` however many unknown kids arrive, and
/// concurrent requests share it. The last good key set stays while the IdP is down or answers
/// garbage. Only keys carrying both `kid` and an asymmetric `alg` are used; that `alg` is pinned.
final class JWKSKeySource: Service, Sendable {
    private struct State {
        var keys: [String: JWTVerifier.Key] = [:]
        var lastFetchStarted: NIODeadline?
        var nextRefresh: NIODeadline = .now()
        var inFlight: Task<Void, Never>?
    }

    let spec: JWKSSpec
    private let client: HTTPClient
    private let logger: Logger
    private let state = Mutex(State())
    private let fetches = Atomic<Int>(0)

    /// How many fetches have started (for tests and logs).
    var fetchCount: Int { fetches.load(ordering: .relaxed) }

    init(spec: JWKSSpec, group: any EventLoopGroup, logger: Logger) throws(SpecLoadError) {
        self.spec = spec
        self.logger = logger
        var configuration = HTTPClient.Configuration()
        configuration.redirectConfiguration = .disallow
        configuration.timeout = .init(connect: .nanoseconds(spec.timeout.nanosecondsValue), read: .nanoseconds(spec.timeout.nanosecondsValue))
        if let caFile = spec.caFile {
            var tls = TLSConfiguration.makeClientConfiguration()
            do {
                tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caFile))
            } catch {
                throw SpecLoadError([SpecDiagnostic(spec.location, "jwks ca_file '\(caFile)' is not a PEM certificate file", hint: "give a PEM file of CA certificates")])
            }
            configuration.tlsConfiguration = tls
        }
        client = HTTPClient(eventLoopGroupProvider: .shared(group), configuration: configuration)
    }

    /// The key for `kid`, fetching the key set first if it is unknown and a fetch is allowed now.
    func key(kid: String) async -> JWTVerifier.Key? {
        if let key = state.withLock({ $0.keys[kid] }) { return key }
        guard let fetch = startFetch(force: false) else { return nil }
        await fetch.value
        return state.withLock { $0.keys[kid] }
    }

    /// Fetches now and then whenever the cached set expires, until shutdown.
    func run() async throws {
        while !Task.isCancelled {
            if let fetch = startFetch(force: true) { await fetch.value }
            let wait = max(spec.minInterval, state.withLock { $0.nextRefresh - .now() }.duration)
            do {
                try await Task.sleep(for: wait)
            } catch {
                break
            }
        }
        try? await client.shutdown()
    }

    /// Closes the HTTP client of a source whose `run` never started.
    func shutdown() async {
        try? await client.shutdown()
    }

    /// The fetch to wait for: the one in flight, or a new one unless the last began under `min_interval` ago.
    private func startFetch(force: Bool) -> Task<Void, Never>? {
        state.withLock { state in
            if let inFlight = state.inFlight { return inFlight }
            let now = NIODeadline.now()
            if !force, let last = state.lastFetchStarted, now - last < .nanoseconds(spec.minInterval.nanosecondsValue) { return nil }
            state.lastFetchStarted = now
            fetches.add(1, ordering: .relaxed)
            let task = Task { await self.fetch() }
            state.inFlight = task
            return task
        }
    }

    private func fetch() async {
        defer { state.withLock { $0.inFlight = nil } }
        var refreshIn = spec.refresh
        do {
            let (body, cacheControl) = try await download()
            let keys = try await Self.parse(body)
            guard !keys.isEmpty else { throw JWKSError("holds no usable key (each needs kid and an asymmetric alg)") }
            if let maxAge = Self.maxAge(cacheControl) {
                refreshIn = min(max(maxAge, spec.minInterval), .seconds(86_400))
            }
            state.withLock { $0.keys = keys }
            logger.debug("JWKS fetched", metadata: ["url": "\(spec.url)", "keys": "\(keys.count)"])
        } catch {
            refreshIn = spec.minInterval
            logger.warning("JWKS fetch failed; keeping the last good keys", metadata: ["url": "\(spec.url)", "error": "\(error)"])
        }
        state.withLock { $0.nextRefresh = .now() + .nanoseconds(refreshIn.nanosecondsValue) }
    }

    /// The JWKS body and its Cache-Control header, all within `timeout`.
    ///
    /// AsyncHTTPClient's deadline stops at the response head, and its read timeout only bounds the
    /// gap between reads, so an IdP dripping its body would otherwise hold every request waiting on
    /// an unknown-kid fetch. The whole exchange therefore races a timer.
    private func download() async throws -> (body: [UInt8], cacheControl: String?) {
        let url = spec.url.description
        let client = self.client
        let timeout = spec.timeout
        let maxBytes = spec.maxBytes
        return try await withThrowingTaskGroup(of: (body: [UInt8], cacheControl: String?)?.self) { group in
            group.addTask {
                var request = HTTPClientRequest(url: url)
                request.headers.add(name: "accept", value: "application/json")
                let response = try await client.execute(request, timeout: .nanoseconds(timeout.nanosecondsValue))
                guard response.status == .ok else { throw JWKSError("answered \(response.status.code)") }
                let body = try await response.body.collect(upTo: maxBytes)
                return (Array(body.readableBytesView), response.headers.first(name: "cache-control"))
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let result = first else {
                throw JWKSError("took longer than \(timeout)")
            }
            return result
        }
    }

    /// Usable keys by kid: each with a kid and an asymmetric alg jwt-kit accepts.
    static func parse(_ bytes: [UInt8]) async throws -> [String: JWTVerifier.Key] {
        guard case .array(let entries)? = try JSONParser.parse(bytes)["keys"] else { throw JWKSError("is not a JWK set") }
        var keys: [String: JWTVerifier.Key] = [:]
        for entry in entries {
            guard case .string(let kid)? = entry["kid"], case .string(let alg)? = entry["alg"],
                let algorithm = JWTKeyAlgorithm(rawValue: alg), !algorithm.isHMAC
            else { continue }
            var json: [UInt8] = []
            entry.write(to: &json)
            guard let jwk = try? JSONDecoder().decode(JWK.self, from: Data(json)) else { continue }
            let collection = JWTKeyCollection()
            // Asking for the signer without an alg makes jwt-kit build it from the JWK's own alg;
            // a key whose material does not fit that alg (an RSA key labelled ES256) is skipped
            // here rather than letting jwt-kit build its signer from a token's header later.
            guard (try? await collection.add(jwk: jwk)) != nil,
                let signer = try? await collection.getKey(for: JWKIdentifier(string: kid)),
                signer.name == algorithm.rawValue
            else { continue }
            keys[kid] = JWTVerifier.Key(kid: kid, algorithm: algorithm, collection: collection)
        }
        return keys
    }

    static func maxAge(_ cacheControl: String?) -> Duration? {
        guard let cacheControl else { return nil }
        for directive in cacheControl.split(separator: ",") {
            let parts = directive.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            if parts.count == 2, parts[0] == "max-age", let seconds = Int64(parts[1]), seconds >= 0 { return .seconds(seconds) }
        }
        return nil
    }

    struct JWKSError: Error, CustomStringConvertible {
        let description: String
        init(_ problem: String) { description = "the JWKS response \(problem)" }
    }
}

extension TimeAmount {
    fileprivate var duration: Duration { .nanoseconds(nanoseconds) }
}
