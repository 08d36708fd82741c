import BFFSpec
import Foundation
import Testing

@testable import BFFRuntime

/// `bff keys add` and `bff keys revoke`, run as an operator would.
@Suite("Auth: bff keys", .timeLimit(.minutes(1)))
struct KeysCommandTests {
    static func mode(_ path: String) throws -> Int {
        try #require((FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber)?.intValue)
    }

    @Test("add prints a new key once, stores only its hash in a 0600 file; revoke removes the client's lines and keeps the mode")
    func addAndRevoke() async throws {
        let bff = try ExecutableTests.binary("bff")
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("bff-keys-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }

        let first = try await ExecutableTests.run(bff, ["keys", "add", "--client", "acme", "--plan", "gold", "--file", path])
        #expect(first.status == 0, "\(first.errors)")
        let key = first.output.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(key.hasPrefix("bffk_") && !key.contains("\n"))
        #expect(first.errors.contains("cannot be shown again"))
        #expect(try Self.mode(path) == 0o600)
        let second = try await ExecutableTests.run(bff, ["keys", "add", "--client", "globex", "--plan", "bronze", "--file", path])
        let otherKey = second.output.trimmingCharacters(in: .whitespacesAndNewlines)

        let stored = try String(contentsOfFile: path, encoding: .utf8)
        #expect(!stored.contains(key) && !stored.contains(otherKey))
        let store = try APIKeyStore(spec: APIKeySpec(file: path, location: SourceLocation(file: "t", line: 1)), environment: [:], logger: quietLogger)
        #expect(store.authenticate(key)?.clientID == "acme")
        #expect(store.authenticate(otherKey)?.plan == "bronze")

        let revoked = try await ExecutableTests.run(bff, ["keys", "revoke", "--client", "acme", "--file", path])
        #expect(revoked.status == 0, "\(revoked.errors)")
        #expect(try Self.mode(path) == 0o600, "revoking must not widen the keys file's permissions")
        store.reloadIfChanged()
        #expect(store.authenticate(key) == nil)
        #expect(store.authenticate(otherKey)?.clientID == "globex")
        let again = try await ExecutableTests.run(bff, ["keys", "revoke", "--client", "acme", "--file", path])
        #expect(again.status != 0 && again.errors.contains("acme"))
    }

    @Test("client and plan names that would break the line format are refused")
    func badNames() async throws {
        let bff = try ExecutableTests.binary("bff")
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("bff-keys-\(UUID().uuidString)").path
        for (client, plan) in [("acme corp", "gold"), ("acme", "gold#x"), ("", "gold")] {
            let result = try await ExecutableTests.run(bff, ["keys", "add", "--client", client, "--plan", plan, "--file", path])
            #expect(result.status != 0, "\(client) \(plan)")
            #expect(result.output.isEmpty, "no key printed for a refused name")
        }
        #expect(!FileManager.default.fileExists(atPath: path))
    }
}
