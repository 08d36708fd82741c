import BFFSpec
import HTTPTypes
import NIOCore

/// An aggregated endpoint's `cache:`: whole composed bodies, kept for `ttl` in the BFF's store.
///
/// A body depends on the path, on the query values, headers, claims and client certificate
/// subject the calls' templates read,
/// and on the caller (whose identity headers reach the services), so those make the key; query
/// parameters no template reads do not split it. Only bodies whose every call succeeded are kept.
struct EndpointCache: Sendable {
    let runtime: CacheRuntime
    let spec: CacheSpec
    private let lifetime: CacheLifetime
    private let queryNames: [String]
    private let headerNames: [String]
    private let claimNames: [String]
    private let readsTLSSubject: Bool

    /// - Parameter variables: every placeholder of the endpoint's call templates.
    init(runtime: CacheRuntime, spec: CacheSpec, variables: [TemplateVariable]) {
        self.runtime = runtime
        self.spec = spec
        lifetime = CacheLifetime(ttl: spec.ttl ?? .zero, staleIfError: .zero, staleWhileRevalidate: .zero)
        var query: Set<String> = [], headers: Set<String> = [], claims: Set<String> = []
        var tlsSubject = false
        for variable in variables {
            switch variable.source {
            case .query(let name): query.insert(name)
            case .header(let name): headers.insert(name.lowercased())
            case .auth(let name): claims.insert(name)
            case .tlsSubject: tlsSubject = true
            case .path, .call: break
            }
        }
        queryNames = query.sorted()
        headerNames = headers.sorted()
        claimNames = claims.sorted()
        readsTLSSubject = tlsSubject
    }

    /// The key of the body for a request to `path` (already checked by ingress), or nil when the
    /// request must bypass the cache (credentials not verified into a caller).
    func key(path: String, inputs: RequestInputs) -> String? {
        guard let scope = runtime.scope(of: inputs, cache: spec) else { return nil }
        let normalized = (try? IngressPath(Substring(path)))?.normalized ?? path
        let query = queryNames.compactMap { name in inputs.query[name].map { (name: name, value: $0) } }
        var read: [(name: String, value: String)] = []
        for name in headerNames {
            if let value = HTTPField.Name(name).flatMap({ inputs.headers[$0] }) { read.append(("header." + name, value)) }
        }
        for name in claimNames {
            if let value = inputs.claims[name] { read.append(("auth." + name, value)) }
        }
        if readsTLSSubject, let subject = inputs.tlsSubject { read.append(("tls.subject", subject)) }
        return CacheKey.endpoint(path: normalized, query: query, inputs: read, scope: scope)
    }

    /// What a look-up found: a fresh body to answer with, or the generation to store a new one with.
    enum Lookup: Sendable {
        case hit(body: ByteBuffer, entityTag: String, age: Duration)
        case miss(generation: UInt64)
    }

    /// The fresh body stored under `key` with its ETag and age, counting the look-up as a hit or a miss.
    func fresh(_ key: String) async -> Lookup {
        let lookup = await runtime.store.lookup(key)
        if case .response(let stored) = lookup.entry, let entityTag = stored.entityTag {
            let age = stored.age(at: runtime.store.currentTime)
            if stored.freshness(at: age) == .fresh {
                runtime.record(.hit)
                return .hit(body: stored.body, entityTag: entityTag, age: age)
            }
        }
        runtime.record(.miss)
        return .miss(generation: lookup.generation)
    }

    /// Keeps a composed body and its ETag under `key`, unless a purge came after `generation` was read.
    func store(_ body: ByteBuffer, entityTag: String, under key: String, generation: UInt64) async {
        let response = CachedResponse(status: 200, body: body, storedAt: runtime.store.currentTime, lifetime: lifetime, entityTag: entityTag)
        await runtime.store.store(response, under: key, vary: nil, generation: generation)
    }
}
