public import BFFSpec
import NIOCore

/// How a BFF process runs: where it listens (publicly and for operators), how many event loops,
/// how it drains.
public struct ServerOptions: Sendable {
    public var listen: HostPort
    /// Event loop threads; each handles its connections and their upstream calls end to end.
    public var threads: Int
    /// How long in-flight requests may take to finish after SIGTERM before the process exits anyway.
    public var drainTimeout: Duration
    /// Where the JSON access log goes; nil turns it off.
    public var accessLog: LogLineSink?
    /// Where `/metrics`, `/health` and `/ready` are served for operators; nil serves no admin listener.
    public var adminListen: HostPort?
    /// How long after SIGTERM the server keeps accepting while `/ready` answers 503, so a load
    /// balancer that polls readiness takes it out of rotation before it stops accepting.
    public var preDrain: Duration
    /// Whether qualifying aggregation requests are answered on the event loop without
    /// Hummingbird's request task (see ``FastAggregations``); off sends every request through it.
    public var fastAggregations: Bool
    /// How often `--watch` looks at the spec's files (the spec, its includes, key and CA files)
    /// and reloads when one changed; nil does not watch (SIGHUP and `POST /admin/reload` still reload).
    public var watchInterval: Duration?

    /// One event loop per core this process may run on.
    public static var defaultThreads: Int { System.coreCount }

    public init(
        listen: HostPort,
        threads: Int = ServerOptions.defaultThreads,
        drainTimeout: Duration = .seconds(10),
        accessLog: LogLineSink? = .standardOutput,
        adminListen: HostPort? = nil,
        preDrain: Duration = .zero,
        fastAggregations: Bool = true,
        watchInterval: Duration? = nil
    ) {
        self.listen = listen
        self.threads = max(1, threads)
        self.drainTimeout = drainTimeout
        self.accessLog = accessLog
        self.adminListen = adminListen
        self.preDrain = preDrain
        self.fastAggregations = fastAggregations
        self.watchInterval = watchInterval
    }
}
