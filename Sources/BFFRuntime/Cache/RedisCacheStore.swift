import BFFSpec
import Logging
import NIOCore
import Prometheus

/// Cached answers in a Redis every replica of a BFF shares: an answer one replica fetched is a
/// hit on the others, a purge on one empties it for all, and a stale copy stands in on any of them.
///
/// There is no near cache in this process in front of it: a replica would keep serving what
/// another purged or refreshed until its own copy expired, and telling every replica needs a
/// subscription this client does not speak. A look-up costs one round trip (`MGET`).
///
/// Keys: `bff:cache:<bff>:<cache key>` holds a ``CacheRecord`` and expires (`PX`) when its last
/// stale window ends; `bff:cachegen:<bff>` counts purges. A fetch stores its answer only if the
/// count is still what its look-up read (checked in the same script that writes), so a purge on
/// any replica wins over a fetch that started before it on any other.
///
/// Every call on the request path is bounded by ``StoreCallGuard``: a Redis that is down or slow
/// turns look-ups into misses and stores into nothing, is counted in
/// `bff_cache_store_errors_total` and logged every few seconds at most.
final class RedisCacheStore: CacheStore {
    /// Stands for "the purge count could not be read": a store with it never writes.
    static let unknownGeneration = UInt64.max

    let client: RedisClient
    /// Records larger than this are not kept (an eighth of `cache_store.max_bytes`, as in memory).
    let maxRecordBytes: Int
    private let keyPrefix: String
    private let generationKey: String
    private let guarded: StoreCallGuard
    private let now: @Sendable () -> NIODeadline
    private let wallNow: UnixClock

    /// - Parameters:
    ///   - bff: the BFF's name, which keeps its keys apart from other BFFs on the same Redis.
    ///   - errors: counts calls that failed or took longer than the guard's timeout.
    ///   - now: the monotonic clock ages are measured with; `wallNow` the wall clock records carry.
    init(
        client: RedisClient,
        bff: String,
        maxBytes: Int,
        timeout: Duration = StoreCallGuard.defaultTimeout,
        errors: Counter?,
        logger: Logger,
        now: @escaping @Sendable () -> NIODeadline = { .now() },
        wallNow: @escaping UnixClock = systemUnixClock
    ) {
        self.client = client
        maxRecordBytes = ResponseCache.largestEntry(within: maxBytes)
        keyPrefix = "bff:cache:" + bff + ":"
        generationKey = "bff:cachegen:" + bff
        guarded = StoreCallGuard(
            timeout: timeout,
            warning: "cache store unavailable at \(client.configuration.endpoint): answers are fetched from the services and not kept meanwhile; check that this Redis is up and reachable",
            errors: errors,
            logger: logger
        )
        self.now = now
        self.wallNow = wallNow
    }

    /// The client configuration for `url`: the password from `BFF_REDIS_PASSWORD`, and replies
    /// allowed to be as large as the largest record kept.
    static func configuration(url: RedisURL, environment: [String: String], maxBytes: Int) -> RedisClient.Configuration {
        var configuration = RedisClient.Configuration(url: url, environment: environment)
        let largest = ResponseCache.largestEntry(within: maxBytes)
        configuration.replyLimits.bulkBytes = max(configuration.replyLimits.bulkBytes, largest)
        configuration.replyLimits.replyBytes = max(configuration.replyLimits.replyBytes, largest + 64 * 1024)
        return configuration
    }

    /// How many calls failed or took too long (for tests; the metric counts the same).
    var failures: Int { guarded.failures }

    var currentTime: NIODeadline { now() }

    func lookup(_ key: String) async -> CacheLookup {
        let command = RedisCommand(["MGET", keyPrefix + key, generationKey])
        let client = self.client
        guard case .array(let values)? = await guarded.call({ try await client.send(command) }), values.count == 2 else {
            return CacheLookup(entry: nil, generation: Self.unknownGeneration)
        }
        let generation: UInt64
        switch values[1] {
        case .null: generation = 0
        case let value: generation = value.string.flatMap { UInt64($0) } ?? Self.unknownGeneration
        }
        guard case .bulkString(let record) = values[0] else { return CacheLookup(entry: nil, generation: generation) }
        let now = now()
        var entry = CacheRecord.decode(record, now: now, wallNow: wallNow())
        // Redis expires a record when its windows end by its clock; replicas' clocks may differ by a little.
        if case .response(let response) = entry, response.freshness(at: response.age(at: now)) == .expired { entry = nil }
        return CacheLookup(entry: entry, generation: generation)
    }

    func store(_ response: CachedResponse, under key: String, vary: VaryMarker?, generation: UInt64) async {
        guard generation != Self.unknownGeneration else { return }
        let now = now()
        let wallNow = wallNow()
        let retention = CacheRecord.retention(of: response, at: now)
        let record = CacheRecord.encode(.response(response), now: now, wallNow: wallNow)
        guard retention > .zero, record.readableBytes <= maxRecordBytes else { return }
        let milliseconds = max(1, retention.milliseconds)
        var keys = [generationKey, keyPrefix + key].map { ByteBuffer(string: $0) }
        var arguments = [ByteBuffer(string: String(generation)), ByteBuffer(string: String(milliseconds)), record]
        if let vary {
            keys.append(ByteBuffer(string: keyPrefix + vary.primaryKey))
            arguments.append(CacheRecord.encode(.variants(vary.names), now: now, wallNow: wallNow))
        }
        let client = self.client
        _ = await guarded.call { [keys, arguments] in try await client.run(Self.storeScript, keys: keys, arguments: arguments) }
    }

    /// Counts the purge first, so fetches in flight anywhere store nothing, then walks the BFF's
    /// keys that start with `prefix` (`SCAN MATCH`, a page at a time) and unlinks them.
    func purge(prefix: String) async throws -> Int {
        _ = try await client.send(["INCR", generationKey])
        let pattern = Self.globEscaped(keyPrefix + prefix) + "*"
        var cursor = "0"
        var purged = 0
        repeat {
            let reply = try await client.send(["SCAN", cursor, "MATCH", pattern, "COUNT", "500"])
            guard case .array(let parts) = reply, parts.count == 2, let next = parts[0].string, case .array(let found) = parts[1] else {
                throw RedisError.protocolError("SCAN answered \(reply)")
            }
            let keys = found.compactMap { value -> ByteBuffer? in
                if case .bulkString(let key) = value { return key }
                return nil
            }
            if !keys.isEmpty {
                purged += Int(try await client.run(Self.purgeScript, keys: keys, arguments: []).integer ?? 0)
            }
            cursor = next
        } while cursor != "0"
        return purged
    }

    func shutdown() async {
        await client.shutdown()
    }

    /// `text` with Redis glob's special characters escaped, so a prefix matches only itself.
    static func globEscaped(_ text: String) -> String {
        var escaped = ""
        for character in text {
            if "*?[]\\^".contains(character) { escaped.append("\\") }
            escaped.append(character)
        }
        return escaped
    }

    /// KEYS: the purge count, the answer's key, and the `Vary` marker's key when there is one.
    /// ARGV: the purge count the look-up read, milliseconds to keep, the answer's record, the
    /// marker's record. Writes nothing when a purge came in between; returns 1 when it wrote.
    static let storeScript = RedisScript(
        """
        if (redis.call('GET', KEYS[1]) or '0') ~= ARGV[1] then return 0 end
        redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[2])
        if KEYS[3] then redis.call('SET', KEYS[3], ARGV[4], 'PX', ARGV[2]) end
        return 1
        """
    )

    /// KEYS: one page of keys a purge matched. Unlinks them and returns how many held answers
    /// (records starting with 'R'), not `Vary` markers.
    static let purgeScript = RedisScript(
        """
        local answers = 0
        for _, key in ipairs(KEYS) do
          if redis.call('GETRANGE', key, 0, 0) == 'R' then answers = answers + 1 end
          redis.call('UNLINK', key)
        end
        return answers
        """
    )
}
