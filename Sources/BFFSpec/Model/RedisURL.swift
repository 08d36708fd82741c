/// `redis://host:port/db`, where the rate limiter (`rate_limits.store`) and the cache
/// (`cache_store.redis`) keep what replicas share; a password, if any, comes from
/// `BFF_REDIS_PASSWORD`, never the spec.
public struct RedisURL: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var database: Int

    public init(host: String, port: Int = 6379, database: Int = 0) {
        self.host = host
        self.port = port
        self.database = database
    }

    /// Parses `redis://127.0.0.1:6379` or `redis://redis:6379/2`; nil for anything else.
    public init?(_ text: String) {
        guard text.hasPrefix("redis://") else { return nil }
        var rest = Substring(text.dropFirst("redis://".count))
        var database = 0
        if let slash = rest.firstIndex(of: "/") {
            let db = rest[rest.index(after: slash)...]
            if !db.isEmpty {
                guard let number = Int(db), number >= 0 else { return nil }
                database = number
            }
            rest = rest[..<slash]
        }
        guard !rest.contains("@"), !rest.isEmpty else { return nil }
        var port = 6379
        var host = String(rest)
        if let colon = rest.lastIndex(of: ":"), !rest.hasSuffix("]") {
            guard let p = Int(rest[rest.index(after: colon)...]), (1...65535).contains(p) else { return nil }
            port = p
            host = String(rest[..<colon])
        }
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { return nil }
        self.init(host: host, port: port, database: database)
    }

    public var description: String { "redis://\(host.contains(":") ? "[\(host)]" : host):\(port)/\(database)" }
}
