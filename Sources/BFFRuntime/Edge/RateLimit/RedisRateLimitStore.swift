import BFFSpec

/// Limiter state in Redis, shared by every replica of a BFF: each request's checks run as one
/// Lua script, so they are atomic and cost one round trip.
///
/// Rates use Redis's clock (`TIME`), so replicas whose clocks disagree still share one budget.
/// Quota periods are named from this process's clock (`…:2026-11-24`); replicas within a few
/// seconds of each other only disagree right at a period's boundary.
///
/// Keys: `bff:rl:<prefix>:r:<check key>` holds a rate's theoretical arrival time in microseconds
/// and expires when the budget is whole again; `bff:rl:<prefix>:q:<check key>:<period>` counts
/// a quota's requests and expires at the period's end.
final class RedisRateLimitStore: RateLimitStore {
    let client: RedisClient
    private let keyPrefix: String
    private let now: UnixClock

    /// - Parameters:
    ///   - keyPrefix: keeps this BFF's keys apart from other BFFs on the same Redis.
    ///   - now: names quota periods (tests pass a fake clock).
    init(client: RedisClient, keyPrefix: String, now: @escaping UnixClock = systemUnixClock) {
        self.client = client
        self.keyPrefix = "bff:rl:" + keyPrefix + ":"
        self.now = now
    }

    var isRemote: Bool { true }

    func check(_ checks: [LimitCheck]) async throws -> [LimitDecision] {
        guard !checks.isEmpty else { return [] }
        let now = self.now()
        var keys: [String] = []
        var arguments: [String] = []
        var periodEnds: [Int64?] = []
        for check in checks {
            switch check.kind {
            case .rate(let rate, let burst):
                let interval = max(1, rate.period.nanosecondsValue / 1000 / Int64(max(1, rate.count)))
                keys.append(keyPrefix + "r:" + check.key)
                arguments += ["r", String(interval), String(max(1, burst))]
                periodEnds.append(nil)
            case .quota(let quota):
                let period = QuotaPeriod.current(quota.window, unixSeconds: now / 1_000_000_000)
                keys.append(keyPrefix + "q:" + check.key + ":" + period.id)
                arguments += ["q", String(quota.count), String(period.end)]
                periodEnds.append(period.end)
            }
        }
        let reply = try await client.run(Self.script, keys: keys, arguments: arguments)
        guard case .array(let values) = reply, values.count == checks.count * 4 else {
            throw RedisError.protocolError("the rate limit script returned \(reply) for \(checks.count) checks")
        }
        let numbers = values.compactMap(\.integer)
        guard numbers.count == values.count else {
            throw RedisError.protocolError("the rate limit script returned a non-integer in \(reply)")
        }
        return checks.indices.map { index in
            let allowed = numbers[index * 4] == 1
            let remaining = Int(numbers[index * 4 + 1])
            switch checks[index].kind {
            case .rate(_, let burst):
                return LimitDecision(
                    allowed: allowed, limit: max(1, burst), remaining: remaining,
                    resetAfter: .microseconds(numbers[index * 4 + 2]), retryAfter: .microseconds(numbers[index * 4 + 3])
                )
            case .quota(let quota):
                let resetAfter = Duration.nanoseconds((periodEnds[index] ?? 0) * 1_000_000_000 - now)
                return LimitDecision(allowed: allowed, limit: quota.count, remaining: remaining, resetAfter: resetAfter, retryAfter: allowed ? .zero : resetAfter)
            }
        }
    }

    func shutdown() async {
        await client.shutdown()
    }

    /// KEYS: one per check. ARGV: three per check, `r, interval µs, burst` or `q, limit, period
    /// end (Unix s)`. Returns four integers per check: allowed (1/0), remaining, reset after µs,
    /// retry after µs (the last two 0 for quotas, whose times the client knows).
    ///
    /// Nothing is written unless every check allows. Numbers are written with `%d`, as Lua would
    /// otherwise print microsecond timestamps with 14 significant digits and lose precision.
    static let script = RedisScript(
        """
        local time = redis.call('TIME')
        local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
        local out = {}
        local writes = {}
        local allowed = true
        for i, key in ipairs(KEYS) do
          local kind, a, b = ARGV[3 * i - 2], tonumber(ARGV[3 * i - 1]), ARGV[3 * i]
          if kind == 'r' then
            local interval, burst = a, tonumber(b)
            local tolerance = interval * (burst - 1)
            local tat = tonumber(redis.call('GET', key) or now)
            if tat < now then tat = now end
            if tat - now > tolerance then
              allowed = false
              table.insert(out, 0); table.insert(out, 0)
              table.insert(out, tat - now); table.insert(out, tat - now - tolerance)
            else
              local new = tat + interval
              writes[i] = new
              table.insert(out, 1)
              table.insert(out, math.floor((tolerance + interval - (new - now)) / interval))
              table.insert(out, new - now); table.insert(out, 0)
            end
          else
            local used = tonumber(redis.call('GET', key) or '0')
            if used >= a then
              allowed = false
              table.insert(out, 0); table.insert(out, 0)
            else
              table.insert(out, 1); table.insert(out, a - used - 1)
            end
            table.insert(out, 0); table.insert(out, 0)
          end
        end
        if allowed then
          for i, key in ipairs(KEYS) do
            if ARGV[3 * i - 2] == 'r' then
              local ttl = math.max(1, math.ceil((writes[i] - now) / 1000))
              redis.call('SET', key, string.format('%d', writes[i]), 'PX', string.format('%d', ttl))
            else
              redis.call('INCR', key)
              redis.call('EXPIREAT', key, ARGV[3 * i])
            end
          end
        end
        return out
        """
    )
}
