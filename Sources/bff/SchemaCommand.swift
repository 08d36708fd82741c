import ArgumentParser
import BFFSpec

/// `bff schema`: the JSON Schema of the spec language, for editors' YAML language servers.
struct SchemaCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schema",
        abstract: "Print the JSON Schema (draft 2020-12) of spec files, or with --include of files named by include:.",
        discussion: """
            bff schema > bff-spec.schema.json, then start a spec with
            # yaml-language-server: $schema=./bff-spec.schema.json
            for completion, key descriptions and checks as you type.
            """
    )

    @Flag(help: "The schema of an included file (services and edge sections only) instead of a spec.")
    var include = false

    func run() throws {
        print(SpecSchema.json(for: include ? .include : .spec), terminator: "")
    }
}
