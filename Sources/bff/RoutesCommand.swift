import ArgumentParser
import BFFClients
import BFFRuntime
import BFFSpec
import Foundation

struct RoutesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "routes",
        abstract: "List the routes a spec serves, with each aggregation's calls and their dependencies."
    )

    @Argument(help: "The spec file.")
    var file: String

    func run() async throws {
        let spec: ClientSpec
        do {
            (spec, _) = try await SpecCheck.load(file)
        } catch {
            FileHandle.standardError.write(Data((error.description + "\n").utf8))
            throw ExitCode(1)
        }
        print("\(spec.name)-bff, listening on \(spec.listen?.description ?? "(set with --listen)") (\(spec.listenerSummary))")
        for endpoint in spec.endpoints {
            let certificates = endpoint.auth?.tlsSubjects ?? []
            let requirement = certificates.isEmpty ? "" : ", client certificate \(certificates.joined(separator: " or "))"
            switch endpoint.kind {
            case .aggregate(let aggregate):
                print("  \(endpoint.route)  aggregate, deadline \(endpoint.timeout.milliseconds) ms\(requirement)")
                for call in aggregate.calls {
                    let after = call.dependencies.sorted()
                    let flags = [call.required ? "required" : "optional", after.isEmpty ? nil : "after \(after.joined(separator: ", "))"]
                    print("      \(call.name): \(call.service) \(call.path)  (\(flags.compactMap { $0 }.joined(separator: ", ")))")
                }
            case .proxy(let proxy):
                let kind = proxy.websocket.map { " (WebSocket, idle \($0.idleTimeout.milliseconds / 1000) s, messages up to \($0.maxMessageBytes) bytes)" } ?? ""
                print("  \(endpoint.route)  proxy -> \(proxy.service) \(proxy.path)\(kind)\(requirement)")
            }
        }
        for endpoint in ClientCatalogue.endpoints(for: spec.name) {
            print("  \(endpoint.route)  Swift (\(endpoint.location.file):\(endpoint.location.line)), calls \(endpoint.calls.map(\.name).joined(separator: ", "))")
        }
        print("  GET /health, GET /ready  built in")
    }
}
