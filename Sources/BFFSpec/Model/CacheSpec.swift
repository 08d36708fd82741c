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

/// `cache_store:` the one in-process store behind every cache of a BFF, bounded by bytes and
/// evicting the least recently used answers first.
public struct CacheStoreSpec: Sendable, Hashable {
    /// Bytes of stored bodies, keys and per-entry bookkeeping the store may hold.
    public var maxBytes: Int

    public static let defaultMaxBytes = 64 << 20

    public init(maxBytes: Int = CacheStoreSpec.defaultMaxBytes) {
        self.maxBytes = maxBytes
    }
}
