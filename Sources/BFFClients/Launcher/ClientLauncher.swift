import ArgumentParser
public import BFFRuntime
import BFFSpec
import Foundation
import Logging

/// The whole `main` of a BFF executable: parse flags, load its spec, add its Swift endpoints, run
/// until SIGTERM/SIGINT, drain, exit 0. A bad spec prints every problem with file:line and exits 1.
public enum ClientLauncher {
    public static func main(client: String, swiftEndpoints: [SwiftEndpoint]) async {
        let environment = ProcessInfo.processInfo.environment
        let flags: ClientOptions
        do {
            flags = try ClientOptions.parse(Array(CommandLine.arguments.dropFirst()))
        } catch {
            ClientOptions.exit(withError: error)
        }
        let level = environment["BFF_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
        LoggingSystem.bootstrap { JSONLogHandler(label: $0, level: level) }
        let path = flags.specPath(client: client, environment: environment)
        do {
            var spec = try SpecLoader.load(file: path)
            spec.tls = try flags.tls(spec: spec, environment: environment)
            let options = try flags.serverOptions(spec: spec, environment: environment)
            let server = try await BFFServer(spec: spec, swiftEndpoints: swiftEndpoints, options: options)
            try await server.runUntilSignalled()
        } catch let error as SpecLoadError {
            FileHandle.standardError.write(Data((error.description + "\n").utf8))
            Foundation.exit(1)
        } catch let error as ValidationError {
            ClientOptions.exit(withError: error)
        } catch {
            FileHandle.standardError.write(Data("\(client)-bff: \(error)\n".utf8))
            Foundation.exit(1)
        }
    }
}
