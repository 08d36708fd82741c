import ArgumentParser
import BFFClients
import BFFRuntime
import BFFSpec
import Foundation

@main
struct BFFTool: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bff",
        abstract: "Backend-for-Frontend gateway tool: run the demo, serve a spec-only BFF, validate specs, print the spec schema and OpenAPI documents, list routes, manage API keys, mint test tokens.",
        subcommands: [DemoCommand.self, ServeCommand.self, ValidateCommand.self, SchemaCommand.self, OpenAPICommand.self, RoutesCommand.self, TokenCommand.self, KeysCommand.self]
    )
}

/// Where the shipped specs are: the given folder, else `bff-specs` in the current directory or
/// next to the package the binary was built in.
enum SpecsFolder {
    static func locate(_ given: String?) throws -> String {
        if let given { return given }
        var candidates = ["bff-specs"]
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<6 {
            candidates.append(directory.appendingPathComponent("bff-specs").path)
            directory = directory.deletingLastPathComponent()
        }
        for candidate in candidates where FileManager.default.fileExists(atPath: candidate + "/shared/services.yaml") {
            return candidate
        }
        throw ValidationError("cannot find the bff-specs folder; run from the repository root or pass --specs DIR")
    }
}

/// Loads a spec and, for the four shipped clients, compiles its Swift endpoints too, so both kinds
/// of mistakes are reported the same way.
enum SpecCheck {
    static func load(_ path: String) async throws(SpecLoadError) -> (ClientSpec, [String]) {
        let spec = try SpecLoader.load(file: path)
        let server = try await BFFServer(
            spec: spec,
            swiftEndpoints: ClientCatalogue.endpoints(for: spec.name),
            options: ServerOptions(listen: spec.listen ?? HostPort(host: "127.0.0.1", port: 0), threads: 1),
            validateOnly: true
        )
        let routes = server.routeDescriptions
        await server.discard()
        return (spec, routes)
    }
}
