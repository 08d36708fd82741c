import ArgumentParser
import BFFRuntime
import Foundation

struct KeysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Manage partner API keys in a keys file (only their SHA-256 hashes are stored).",
        subcommands: [Add.self, Revoke.self]
    )

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a key for a client, print it once, and store its hash.")

        @Option(help: "The client id the key stands for (used for limits, quotas and logs).")
        var client: String

        @Option(help: "The plan from the spec's plans: section.")
        var plan: String

        @Option(help: "The keys file the spec's api_keys.file names.")
        var file: String

        func run() throws {
            try KeysFile.checkName(client, "client")
            try KeysFile.checkName(plan, "plan")
            let (key, line) = APIKeyLine.generate(client: client, plan: plan)
            try KeysFile.append(line, to: file)
            print(key)
            FileHandle.standardError.write(Data("Stored the hash for client '\(client)' (plan \(plan)) in \(file). The key above is not stored and cannot be shown again.\n".utf8))
        }
    }

    struct Revoke: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove every key of a client from the keys file.")

        @Option(help: "The client whose keys are revoked.")
        var client: String

        @Option(help: "The keys file the spec's api_keys.file names.")
        var file: String

        func run() throws {
            let text = (try? String(contentsOfFile: file, encoding: .utf8)) ?? ""
            var removed = 0
            let kept = text.split(separator: "\n", omittingEmptySubsequences: false).filter { line in
                let fields = line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)[0].split(whereSeparator: { $0 == " " || $0 == "\t" })
                let matches = fields.count == 3 && fields[1] == client
                if matches { removed += 1 }
                return !matches
            }
            guard removed > 0 else { throw ValidationError("no key of client '\(client)' in \(file)") }
            try kept.joined(separator: "\n").write(toFile: file, atomically: true, encoding: .utf8)
            print("Revoked \(removed) key(s) of client '\(client)'; running BFFs drop them at their next reload.")
        }
    }
}

enum KeysFile {
    static func checkName(_ value: String, _ what: String) throws {
        guard !value.isEmpty, value.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }) else {
            throw ValidationError("the \(what) '\(value)' may only hold letters, digits, '-', '_' and '.'")
        }
    }

    /// Appends `line`, creating the file readable by its owner only if it does not exist.
    static func append(_ line: String, to path: String) throws {
        if !FileManager.default.fileExists(atPath: path) {
            guard FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600]) else {
                throw ValidationError("cannot create \(path)")
            }
        }
        guard let handle = FileHandle(forWritingAtPath: path) else { throw ValidationError("cannot write \(path)") }
        defer { try? handle.close() }
        let end = try handle.seekToEnd()
        var text = line + "\n"
        if end > 0 {
            try handle.seek(toOffset: end - 1)
            if handle.readData(ofLength: 1) != Data("\n".utf8) { text = "\n" + text }
            try handle.seekToEnd()
        }
        handle.write(Data(text.utf8))
    }
}
