public import ArgumentParser
import BFFRuntime
import BFFSpec
import Foundation

/// Flags every BFF executable takes; each has an environment variable for container use.
public struct ClientOptions: ParsableCommand, Sendable {
    /// Help and errors name the executable that runs (`partner-bff`), not this type.
    public static var configuration: CommandConfiguration {
        CommandConfiguration(
            commandName: CommandLine.arguments.first.map { URL(fileURLWithPath: $0).lastPathComponent },
            abstract: "A Backend-for-Frontend gateway: serves the aggregations and proxied routes its spec declares."
        )
    }

    @Option(help: "Spec file (env BFF_SPEC; default bff-specs/<client>.yaml).")
    public var spec: String?

    @Option(help: "HOST:PORT to listen on, overriding the spec's listen (env BFF_LISTEN).")
    public var listen: String?

    @Option(help: "PEM certificate chain to serve TLS with, replacing the spec's tls.cert_file (env BFF_TLS_CERT; needs --tls-key).")
    public var tlsCert: String?

    @Option(help: "PEM private key of --tls-cert, replacing the spec's tls.key_file (env BFF_TLS_KEY).")
    public var tlsKey: String?

    @Option(help: "Event loop threads (env BFF_THREADS; default: one per available core).")
    public var threads: Int?

    @Option(help: "Seconds in-flight requests get to finish after SIGTERM (env BFF_DRAIN_SECONDS; default 10).")
    public var drainSeconds: Double?

    @Option(help: "HOST:PORT of the admin listener (/metrics, /health, /ready), or 'off' (env BFF_ADMIN_LISTEN; default: the spec's admin_listen, else 127.0.0.1 on the public port + 1000).")
    public var adminListen: String?

    @Option(help: "Seconds after SIGTERM to keep accepting while /ready answers 503, before draining (env BFF_PRE_DRAIN_SECONDS; default 0).")
    public var preDrainSeconds: Double?

    @Flag(help: "Reload the spec when it, a file it includes, or a key or CA file it names changes, looking every BFF_WATCH_SECONDS (default 1) (env BFF_WATCH=on); SIGHUP and POST /admin/reload reload without it.")
    public var watch = false

    @Flag(help: "Do not write the JSON access log (env BFF_ACCESS_LOG=off).")
    public var noAccessLog = false

    @Flag(help: "Send every request through the full middleware stack, none on the event-loop aggregation path (env BFF_FAST_AGGREGATIONS=off).")
    public var noFastAggregations = false

    public init() {}

    /// The spec path: flag, then environment, then the client's default.
    func specPath(client: String, environment: [String: String]) -> String {
        spec ?? environment["BFF_SPEC"] ?? "bff-specs/\(client).yaml"
    }

    /// The spec's `tls:` with the certificate and key from flags or environment, which take
    /// precedence over the spec's own files.
    func tls(spec: ClientSpec, environment: [String: String]) throws -> TLSSpec? {
        let cert = tlsCert ?? environment["BFF_TLS_CERT"]
        let key = tlsKey ?? environment["BFF_TLS_KEY"]
        guard cert != nil || key != nil else { return spec.tls }
        guard let cert, let key else {
            throw ValidationError("--tls-cert and --tls-key (or BFF_TLS_CERT and BFF_TLS_KEY) go together: give both")
        }
        for (flag, path) in [("--tls-cert", cert), ("--tls-key", key)] where !FileManager.default.isReadableFile(atPath: path) {
            throw ValidationError("\(flag) '\(path)' cannot be read; give a PEM file")
        }
        var tls = spec.tls ?? TLSSpec(certFile: cert, keyFile: key, location: SourceLocation(file: "--tls-cert", line: 1))
        tls.certFile = cert
        tls.keyFile = key
        return tls
    }

    /// Server options from flags, environment and the spec, in that order of precedence.
    func serverOptions(spec: ClientSpec, environment: [String: String]) throws -> ServerOptions {
        let listenText = listen ?? environment["BFF_LISTEN"]
        let address: HostPort
        if let listenText {
            guard let parsed = HostPort(listenText) else {
                throw ValidationError("--listen '\(listenText)' is not HOST:PORT, e.g. 127.0.0.1:8081")
            }
            address = parsed
        } else if let fromSpec = spec.listen {
            address = fromSpec
        } else {
            throw ValidationError("\(spec.file) has no 'listen' and no --listen or BFF_LISTEN was given")
        }
        var options = ServerOptions(listen: address)
        if let count = threads ?? environment["BFF_THREADS"].flatMap(Int.init) {
            guard count > 0 else { throw ValidationError("--threads must be at least 1") }
            options.threads = count
        }
        if let seconds = drainSeconds ?? environment["BFF_DRAIN_SECONDS"].flatMap(Double.init) {
            guard seconds > 0 else { throw ValidationError("--drain-seconds must be positive") }
            options.drainTimeout = .milliseconds(Int64(seconds * 1000))
        }
        if let seconds = preDrainSeconds ?? environment["BFF_PRE_DRAIN_SECONDS"].flatMap(Double.init) {
            guard seconds >= 0 else { throw ValidationError("--pre-drain-seconds must not be negative") }
            options.preDrain = .milliseconds(Int64(seconds * 1000))
        }
        options.adminListen = try Self.adminAddress(flag: adminListen ?? environment["BFF_ADMIN_LISTEN"], spec: spec.adminListen, publicAddress: address)
        options.accessLog = noAccessLog || environment["BFF_ACCESS_LOG"] == "off" ? nil : .standardOutput
        options.fastAggregations = !(noFastAggregations || environment["BFF_FAST_AGGREGATIONS"] == "off")
        if watch || environment["BFF_WATCH"] == "on" {
            options.watchInterval = .milliseconds(Int64(((environment["BFF_WATCH_SECONDS"].flatMap(Double.init) ?? 1) * 1000).rounded()))
        }
        return options
    }

    /// The admin listener's address: flag or environment, then the spec, then loopback on the
    /// public port + 1000 (an ephemeral port when the public one is).
    static func adminAddress(flag: String?, spec: AdminListen?, publicAddress: HostPort) throws -> HostPort? {
        let setting: AdminListen
        if let flag {
            guard let parsed = AdminListen(flag) else {
                throw ValidationError("--admin-listen '\(flag)' is neither HOST:PORT nor 'off', e.g. 127.0.0.1:9081")
            }
            setting = parsed
        } else if let spec {
            setting = spec
        } else {
            let port = publicAddress.port == 0 ? 0 : publicAddress.port + 1000
            guard port <= 65535 else {
                throw ValidationError("the default admin port (\(publicAddress.port) + 1000) is out of range; set --admin-listen or BFF_ADMIN_LISTEN")
            }
            setting = .address(HostPort(host: "127.0.0.1", port: port))
        }
        switch setting {
        case .address(let address): return address
        case .off: return nil
        }
    }
}
