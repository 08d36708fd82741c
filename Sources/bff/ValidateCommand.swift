import ArgumentParser
import BFFSpec
import Foundation

struct ValidateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check spec files; print every problem with file:line and exit 1 if any."
    )

    @Argument(help: "Spec files to check.")
    var files: [String]

    func run() async throws {
        var failed = false
        for file in files {
            do {
                let (spec, routes) = try await SpecCheck.load(file)
                print("\(file): ok (\(spec.name), \(routes.count) routes, \(spec.services.count) services)")
            } catch {
                failed = true
                FileHandle.standardError.write(Data((error.description + "\n").utf8))
            }
        }
        if failed { throw ExitCode(1) }
    }
}
