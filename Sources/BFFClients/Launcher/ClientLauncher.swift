import ArgumentParser
public import BFFRuntime
import BFFSpec
import Foundation
import Logging

/// The whole `main` of a BFF executable: parse flags, load its spec, add its Swift endpoints, run
/// until SIGTERM/SIGINT (reloading the spec on SIGHUP), drain, exit 0. A bad spec prints every problem with file:line and exits 1.
public enum ClientLauncher {
    public static func main(client: String, swiftEndpoints: [SwiftEndpoint]) async {
        let environment = ProcessInfo.processInfo.environment
        let flags: ClientOptions
        do {
            flags = try ClientOptions.parse(Array(CommandLine.arguments.dropFirst()))
        } catch {
            ClientOptions.exit(withError: error)
        }
        await run(specPath: flags.specPath(client: client, environment: environment), flags: flags, swiftEndpoints: swiftEndpoints, name: "\(client)-bff")
    }

    /// Loads the spec at `specPath`, serves it with `swiftEndpoints` until SIGTERM/SIGINT, and
    /// exits 1 with every problem (file:line) if it does not load; for the executables and `bff serve`.
    /// - Parameter name: What error lines are prefixed with (`web-bff`, `bff serve`).
    public static func run(specPath path: String, flags: ClientOptions, swiftEndpoints: [SwiftEndpoint], name: String) async {
        let environment = ProcessInfo.processInfo.environment
        let level = environment["BFF_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
        LoggingSystem.bootstrap { JSONLogHandler(label: $0, level: level) }
        do {
            // A reload (SIGHUP, POST /admin/reload, --watch) reads the spec the same way, flags applied.
            let load: BFFServer.SpecSource = {
                var spec = try SpecLoader.load(file: path)
                spec.tls = try flags.tls(spec: spec, environment: environment)
                return spec
            }
            let spec = try load()
            let options = try flags.serverOptions(spec: spec, environment: environment)
            let server = try await BFFServer(spec: spec, swiftEndpoints: swiftEndpoints, options: options, reloadFrom: load)
            try await server.runUntilSignalled()
        } catch let error as SpecLoadError {
            var lines = [error.description]
            if error.diagnostics.contains(where: { $0.location.file.hasSuffix(".swift") }) {
                lines.append("\(name) adds Swift-declared endpoints, and \(path) lacks what they need; a BFF of the spec alone runs with `bff serve \(path)`")
            }
            FileHandle.standardError.write(Data((lines.joined(separator: "\n") + "\n").utf8))
            Foundation.exit(1)
        } catch let error as ValidationError {
            ClientOptions.exit(withError: error)
        } catch {
            FileHandle.standardError.write(Data("\(name): \(error)\n".utf8))
            Foundation.exit(1)
        }
    }
}
