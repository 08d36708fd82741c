/// `cache:` on a call or on an aggregated endpoint: how long an answer is reused, and for whom.
///
/// A call's answer is stored per service, target, the request headers the service's `Vary` names,
/// and the caller (JWT `sub` or API-key client) unless `shared`. An endpoint's composed body is
/// stored per route, path and query, the headers and claims its templates read, and the caller
/// unless `shared`.
public struct CacheSpec: Sendable, Hashable {
    /// How long a stored answer is served without asking again; nil (calls only) honours the
    /// service's `Cache-Control: s-maxage` or `max-age`, and stores nothing without one.
    public var ttl: Duration?
    /// How long past its freshness the last good answer still stands in when the service fails
    /// (calls only); zero turns it off.
    public var staleIfError: Duration
    /// How long past its freshness the stored answer is still served while one background request
    /// refreshes it (calls only); zero turns it off.
    public var staleWhileRevalidate: Duration
    /// One stored answer for every caller. Only for answers that are the same for everyone: it also
    /// lets answers to requests carrying credentials be stored.
    public var shared: Bool
    public var location: SourceLocation

    public init(
        ttl: Duration? = nil,
        staleIfError: Duration = .zero,
        staleWhileRevalidate: Duration = .zero,
        shared: Bool = false,
        location: SourceLocation
    ) {
        self.ttl = ttl
        self.staleIfError = staleIfError
        self.staleWhileRevalidate = staleWhileRevalidate
        self.shared = shared
        self.location = location
    }

    /// For a Swift-declared call (`SwiftCall(..., cache: CacheSpec(ttl: .seconds(30)))`): problems
    /// are reported at the file and line that wrote it.
    public init(
        ttl: Duration? = nil,
        staleIfError: Duration = .zero,
        staleWhileRevalidate: Duration = .zero,
        shared: Bool = false,
        file: String = #fileID,
        line: Int = #line
    ) {
        self.init(ttl: ttl, staleIfError: staleIfError, staleWhileRevalidate: staleWhileRevalidate, shared: shared, location: SourceLocation(file: file, line: line))
    }
}

/// `cache_store:` the one store behind every cache of a BFF: in this process, bounded by bytes and
/// evicting the least recently used answers first; or in a Redis shared by the BFF's replicas.
public struct CacheStoreSpec: Sendable, Hashable {
    /// Bytes of stored bodies, keys and per-entry bookkeeping the in-process store may hold; an
    /// answer bigger than an eighth of it is not kept, in Redis either.
    public var maxBytes: Int
    /// The Redis every replica reads and writes answers in; nil keeps them in this process.
    public var redis: RedisURL?
    /// Longest a request waits for one Redis look-up or store before it does without.
    public var timeout: Duration

    public static let defaultMaxBytes = 64 << 20
    public static let defaultTimeout: Duration = .milliseconds(200)

    public init(maxBytes: Int = CacheStoreSpec.defaultMaxBytes, redis: RedisURL? = nil, timeout: Duration = CacheStoreSpec.defaultTimeout) {
        self.maxBytes = maxBytes
        self.redis = redis
        self.timeout = timeout
    }
}
