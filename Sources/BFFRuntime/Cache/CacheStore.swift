import NIOCore

/// Where a BFF's cached answers live: in this process (``ResponseCache``), or in a Redis every
/// replica shares (``RedisCacheStore``). Call and endpoint caches ask only this.
///
/// A store never fails a request: an entry it cannot read is a miss, and an answer it cannot
/// write is simply not kept.
protocol CacheStore: Sendable {
    /// The clock stored answers' ages are measured with.
    var currentTime: NIODeadline { get }

    /// The usable entry under `key` (nil when there is none, or it could not be read), with the
    /// purge generation to store a fetch's answer with.
    func lookup(_ key: String) async -> CacheLookup

    /// Stores `response` under `key`, and with `vary` marks its primary key as varying by those
    /// headers. Ignored when a purge came after `generation` was read, or when the answer takes
    /// more than an eighth of `cache_store.max_bytes`.
    func store(_ response: CachedResponse, under key: String, vary: VaryMarker?, generation: UInt64) async

    /// Removes every entry whose key starts with `prefix` and returns how many answers went (an
    /// empty prefix empties the store); fetches already in flight will not store theirs.
    ///
    /// - Throws: when the store could not be reached, so the operator knows to purge again.
    func purge(prefix: String) async throws -> Int

    /// Closes the store's connections.
    func shutdown() async
}

/// What a look-up found, and the generation that makes a later store lose to a purge in between.
struct CacheLookup: Sendable {
    var entry: CacheEntry?
    var generation: UInt64
}

/// The `Vary` marker that points the primary key of a call's answer at per-header variants.
struct VaryMarker: Sendable, Hashable {
    /// The key without the header values, where look-ups start.
    var primaryKey: String
    /// The lowercased, sorted header names the answer varies by.
    var names: [String]
}
