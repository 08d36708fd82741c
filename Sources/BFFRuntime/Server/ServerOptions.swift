public import BFFSpec
import NIOCore

/// How a BFF process runs: where it listens, how many event loops, how long it drains.
public struct ServerOptions: Sendable {
    public var listen: HostPort
    /// Event loop threads; each handles its connections and their upstream calls end to end.
    public var threads: Int
    /// How long in-flight requests may take to finish after SIGTERM before the process exits anyway.
    public var drainTimeout: Duration
    /// Where the JSON access log goes; nil turns it off.
    public var accessLog: LogLineSink?

    /// One event loop per core this process may run on.
    public static var defaultThreads: Int { System.coreCount }

    public init(
        listen: HostPort,
        threads: Int = ServerOptions.defaultThreads,
        drainTimeout: Duration = .seconds(10),
        accessLog: LogLineSink? = .standardOutput
    ) {
        self.listen = listen
        self.threads = max(1, threads)
        self.drainTimeout = drainTimeout
        self.accessLog = accessLog
    }
}
