import ArgumentParser
import BFFClients
import BFFOpenAPI
import BFFRuntime
import BFFSpec
import Foundation

/// `bff openapi SPEC`: the OpenAPI 3.1 document of a BFF, for frontend tooling (clients, mocks, docs).
struct OpenAPICommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "openapi",
        abstract: "Print the OpenAPI 3.1 document of a spec's routes (and, for the four shipped clients, their Swift endpoints).",
        discussion: "The admin listener serves the same document for the spec running, at /openapi.json."
    )

    @Argument(help: "The spec file.")
    var spec: String

    @Option(help: "The API's version, info.version.")
    var version = "1.0.0"

    @Option(name: .customLong("server"), help: "A base URL clients call (repeatable); default: the spec's listen address.")
    var servers: [String] = []

    @Flag(help: "Leave out the Swift endpoints of the client the spec names (a spec served by `bff serve`).")
    var specOnly = false

    func run() async throws {
        do {
            let loaded = try SpecLoader.load(file: spec)
            let server = try await BFFServer(
                spec: loaded,
                swiftEndpoints: specOnly ? [] : ClientCatalogue.endpoints(for: loaded.name),
                options: ServerOptions(listen: loaded.listen ?? HostPort(host: "127.0.0.1", port: 0), threads: 1),
                validateOnly: true
            )
            let bases = servers.isEmpty ? loaded.listen.map { ["http://\($0)"] } ?? [] : servers
            let document = try server.openAPIDocument(version: version, servers: bases)
            await server.discard()
            FileHandle.standardOutput.write(document)
        } catch let error as SpecLoadError {
            FileHandle.standardError.write(Data((error.description + "\n").utf8))
            throw ExitCode(1)
        } catch let error as OpenAPIDocumentError {
            FileHandle.standardError.write(Data((error.description + "\n").utf8))
            throw ExitCode(1)
        }
    }
}
