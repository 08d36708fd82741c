public import ArgumentParser
import BFFRuntime
import BFFSpec
import Foundation

/// Flags every BFF executable takes; each has an environment variable for container use.
public struct ClientOptions: ParsableArguments {
    @Option(help: "Spec file (env BFF_SPEC; default bff-specs/<client>.yaml).")
    public var spec: String?

    @Option(help: "HOST:PORT to listen on, overriding the spec's listen (env BFF_LISTEN).")
    public var listen: String?

    @Option(help: "Event loop threads (env BFF_THREADS; default: one per available core).")
    public var threads: Int?

    @Option(help: "Seconds in-flight requests get to finish after SIGTERM (env BFF_DRAIN_SECONDS; default 10).")
    public var drainSeconds: Double?

    @Flag(help: "Do not write the JSON access log (env BFF_ACCESS_LOG=off).")
    public var noAccessLog = false

    public init() {}

    /// The spec path: flag, then environment, then the client's default.
    func specPath(client: String, environment: [String: String]) -> String {
        spec ?? environment["BFF_SPEC"] ?? "bff-specs/\(client).yaml"
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
        options.accessLog = noAccessLog || environment["BFF_ACCESS_LOG"] == "off" ? nil : .standardOutput
        return options
    }
}
