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
            try KeysFile.replace(file, with: kept.joined(separator: "\n"))
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

    /// Replaces the file's contents in one rename, keeping its permissions: a plain atomic write
    /// would leave the keys file with the default (often world-readable) mode.
    static func replace(_ path: String, with text: String) throws {
        let mode = (try? FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber)?.intValue ?? 0o600
        let temporary = path + ".\(UUID().uuidString).tmp"
        guard FileManager.default.createFile(atPath: temporary, contents: nil, attributes: [.posixPermissions: mode]),
            let handle = FileHandle(forWritingAtPath: temporary)
        else { throw ValidationError("cannot write next to \(path)") }
        do {
            try handle.write(contentsOf: Data(text.utf8))
            try handle.close()
        } catch {
            try? FileManager.default.removeItem(atPath: temporary)
            throw ValidationError("cannot write next to \(path): \(error)")
        }
        guard rename(temporary, path) == 0 else {
            try? FileManager.default.removeItem(atPath: temporary)
            throw ValidationError("cannot replace \(path)")
        }
    }

    /// Appends `line`, creating the file readable by its owner only if it does not exist.
    static func append(_ line: String, to path: String) throws {
        if !FileManager.default.fileExists(atPath: path) {
            guard FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600]) else {
                throw ValidationError("cannot create \(path)")
            }
        }
        // Opened for reading too: the last byte decides whether the file needs a newline first.
        guard let handle = FileHandle(forUpdatingAtPath: path) else { throw ValidationError("cannot write \(path)") }
        defer { try? handle.close() }
        let end = try handle.seekToEnd()
        var text = line + "\n"
        if end > 0 {
            try handle.seek(toOffset: end - 1)
            if try handle.read(upToCount: 1) != Data("\n".utf8) { text = "\n" + text }
            try handle.seekToEnd()
        }
        try handle.write(contentsOf: Data(text.utf8))
    }
}
