import ArgumentParser
import BFFClients
import Foundation

/// `bff serve SPEC`: a BFF made of a spec alone, with none of the four clients' Swift endpoints,
/// taking the same flags and environment as the client executables.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve a spec-only BFF (no Swift-declared endpoints) until SIGTERM/SIGINT, with the client executables' flags.",
        discussion: """
            The four executables (mobile-bff, web-bff, partner-bff, admin-bff) add their Swift-declared
            endpoints, so each needs what those endpoints call. A BFF whose routes are all in YAML runs here.
            """
    )

    @Argument(help: "Spec file to serve (or --spec / BFF_SPEC).")
    var file: String?

    @OptionGroup var flags: ClientOptions

    func validate() throws {
        if file != nil && flags.spec != nil { throw ValidationError("give the spec once: as SPEC or as --spec") }
        if file == nil && flags.spec == nil && ProcessInfo.processInfo.environment["BFF_SPEC"] == nil {
            throw ValidationError("missing SPEC: bff serve my-bff.yaml")
        }
    }

    func run() async throws {
        let path = file ?? flags.spec ?? ProcessInfo.processInfo.environment["BFF_SPEC"] ?? ""
        await ClientLauncher.run(specPath: path, flags: flags, swiftEndpoints: [], name: "bff serve")
    }
}
