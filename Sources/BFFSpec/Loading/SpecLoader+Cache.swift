import Yams

extension SpecLoader {
    static let callCacheKeys = SpecGrammar.callCache.keys
    /// An endpoint's body is composed by the gateway, so there is no upstream to fall back to or revalidate.
    static let endpointCacheKeys = SpecGrammar.endpointCache.keys
    static let cacheStoreKeys = SpecGrammar.cacheStore.keys

    /// Where a `cache:` section stands, which decides the keys it may hold.
    enum CacheSite {
        case call(String)
        case endpoint

        var what: String {
            switch self {
            case .call(let name): return "cache of call '\(name)'"
            case .endpoint: return "cache of the endpoint"
            }
        }
    }

    /// Reads `cache: { ttl: 30s, stale_if_error: 10m, stale_while_revalidate: 5s, shared: false }`;
    /// nil after any problem (each one reported), so a half-read cache never reaches the validator.
    static func readCache(_ node: Node, at site: CacheSite, reader: YAMLReader) -> CacheSpec? {
        let allowed: [String]
        switch site {
        case .call: allowed = callCacheKeys
        case .endpoint: allowed = endpointCacheKeys
        }
        let before = reader.diagnostics.count
        guard let fields = reader.mapping(node, what: site.what, allowed: allowed) else { return nil }
        var cache = CacheSpec(location: reader.location(of: node))
        for (key, _, value) in fields {
            switch key {
            case "ttl": cache.ttl = cacheDuration(value, what: "ttl", site: site, reader: reader)
            case "stale_if_error": cache.staleIfError = cacheDuration(value, what: "stale_if_error", site: site, reader: reader) ?? .zero
            case "stale_while_revalidate":
                cache.staleWhileRevalidate = cacheDuration(value, what: "stale_while_revalidate", site: site, reader: reader) ?? .zero
            case "shared": cache.shared = reader.bool(value, what: "shared") ?? false
            default: break
            }
        }
        return reader.diagnostics.count == before ? cache : nil
    }

    /// Reads `cache_store: { max_bytes: 64MiB, redis: redis://127.0.0.1:6379/0, timeout: 200ms }`.
    static func readCacheStore(_ node: Node, reader: YAMLReader) -> CacheStoreSpec {
        var store = CacheStoreSpec()
        for (key, _, value) in reader.mapping(node, what: "cache_store", allowed: cacheStoreKeys) ?? [] {
            switch key {
            case "max_bytes": store.maxBytes = reader.byteSize(value, what: "max_bytes") ?? store.maxBytes
            case "redis": store.redis = reader.string(value, what: "redis").flatMap { redisURL($0, at: value, what: "cache_store.redis", reader: reader) }
            case "timeout": store.timeout = reader.duration(value, what: "timeout") ?? store.timeout
            default: break
            }
        }
        return store
    }

    /// A duration that must be longer than zero; a zero gets its own message, since "0s" reads
    /// like "never cache" or "no limit" and is neither.
    private static func cacheDuration(_ node: Node, what: String, site: CacheSite, reader: YAMLReader) -> Duration? {
        let text = node.scalar?.string ?? ""
        let number = text.trimmingSpaces.drop { $0 == "+" }.prefix { $0.isNumber || $0 == "." }
        if !number.isEmpty, Double(number) == 0 {
            let hint: String
            switch (what, site) {
            case ("ttl", .call): hint = "give e.g. 'ttl: 30s', or leave ttl out to honour the service's Cache-Control max-age"
            case ("ttl", .endpoint): hint = "give e.g. 'ttl: 5s', or remove 'cache' from the endpoint"
            default: hint = "give e.g. '\(what): 10m', or leave it out to turn it off"
            }
            reader.report(node, "\(what) in the \(site.what) must be longer than zero", hint: hint)
            return nil
        }
        return reader.duration(node, what: what)
    }
}
