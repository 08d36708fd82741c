import BFFSpec
import Crypto
import Foundation
import Logging
import Synchronization
import Testing

@testable import BFFRuntime

/// The API key store on its own: lookups by hash, reloads of the keys file, malformed lines, and
/// the keys `bff keys add` makes.
@Suite("Auth: API key store", .timeLimit(.minutes(1)))
struct APIKeyStoreTests {
    static let location = BFFSpec.SourceLocation(file: "partner.yaml", line: 7)

    static func store(file: String? = nil, env: String? = nil, logger: Logger = quietLogger) throws -> APIKeyStore {
        let spec = APIKeySpec(file: file, env: env.map { _ in "PARTNER_KEYS" }, reloadInterval: .milliseconds(50), location: location)
        return try APIKeyStore(spec: spec, environment: env.map { ["PARTNER_KEYS": $0] } ?? [:], logger: logger)
    }

    @Test("a key from the file or the environment proves its client and plan; a wrong key proves nothing")
    func lookup() throws {
        let fromFile = APIKeyLine.generate(client: "acme", plan: "gold")
        let fromEnv = APIKeyLine.generate(client: "globex", plan: "bronze")
        let other = APIKeyLine.generate(client: "initech", plan: "gold")
        let store = try Self.store(file: TestTokens.file("# partners\n\(fromFile.line)  # added by ops\n"), env: "# env keys;\(fromEnv.line)")
        let principal = try #require(store.authenticate(fromFile.key))
        #expect(principal == Principal(method: .apiKey, subject: "acme", clientID: "acme", plan: "gold"))
        #expect(store.authenticate(fromEnv.key)?.plan == "bronze")
        #expect(store.authenticate(other.key) == nil)
        #expect(store.authenticate(String(fromFile.key.dropLast())) == nil)
        #expect(store.authenticate(fromFile.key + "x") == nil)
        #expect(store.authenticate("") == nil)
        let hash = String(fromFile.line.prefix(64))
        #expect(store.authenticate(hash) == nil, "the stored hash is not itself a key")
    }

    @Test("deleting a key's line revokes it, and adding one grants it, while the store runs, without a restart")
    func revocationWithoutRestart() async throws {
        let gold = APIKeyLine.generate(client: "acme", plan: "gold")
        let other = APIKeyLine.generate(client: "globex", plan: "gold")
        let late = APIKeyLine.generate(client: "hooli", plan: "gold")
        let path = TestTokens.file("\(gold.line)\n\(other.line)\n")
        let store = try Self.store(file: path)
        try await whileRunning(store) {
            #expect(store.authenticate(gold.key) != nil)
            try "\(other.line)\n".write(toFile: path, atomically: true, encoding: .utf8)
            #expect(await eventually(within: .seconds(2)) { store.authenticate(gold.key) == nil }, "revoked by a rewrite (new inode)")
            #expect(store.authenticate(other.key)?.clientID == "globex")
            let handle = try #require(FileHandle(forWritingAtPath: path))
            try handle.seekToEnd()
            try handle.write(contentsOf: Data("\(late.line)\n".utf8))
            try handle.close()
            #expect(await eventually(within: .seconds(2)) { store.authenticate(late.key) != nil }, "granted by an append in place (same inode)")
            try FileManager.default.removeItem(atPath: path)
            #expect(await eventually(within: .seconds(2)) { store.authenticate(other.key) == nil }, "a deleted keys file holds no keys")
        }
    }

    @Test("malformed lines are reported with file:line and skipped; the valid lines around them still work")
    func malformedLines() throws {
        let valid = APIKeyLine.generate(client: "acme", plan: "gold")
        let hash = String(valid.line.prefix(64))
        let text = """
            # keys
            \(hash) acme
            \(hash.dropLast(2)) acme gold
            \(hash.dropLast(1))z acme gold
            \(hash) acme gold extra
            not-hex-at-all acme gold
            \(valid.line)

            \u{0}\u{7f} \u{1b}[31m
            """
        let path = TestTokens.file(text)
        let recorder = RecordingLogHandler.Storage()
        let store = try Self.store(file: path, logger: Logger(label: "keys") { _ in RecordingLogHandler(storage: recorder) })
        #expect(store.authenticate(valid.key)?.clientID == "acme")
        let places = recorder.entries.filter { $0.level == .warning }.compactMap { $0.metadata["at"] }
        #expect(places == [2, 3, 4, 5, 6, 9].map { "\(path):\($0)" })
    }

    @Test("a keys file missing at start-up is picked up once it appears")
    func fileAppearsLater() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("bff-test-\(UUID().uuidString)").path
        let key = APIKeyLine.generate(client: "acme", plan: "gold")
        let store = try Self.store(file: path)
        #expect(store.authenticate(key.key) == nil)
        try await whileRunning(store) {
            try "\(key.line)\n".write(toFile: path, atomically: true, encoding: .utf8)
            #expect(await eventually(within: .seconds(2)) { store.authenticate(key.key) != nil })
        }
    }

    @Test("new keys are bffk_ plus 256 random bits in base64url, and the stored line is the SHA-256 of the key")
    func generatedKeys() throws {
        let keys = (0..<200).map { _ in APIKeyLine.generate(client: "acme", plan: "gold") }
        #expect(Set(keys.map(\.key)).count == keys.count)
        let alphabet = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        for (key, line) in keys {
            #expect(key.hasPrefix("bffk_") && key.count == 5 + 43 && key.dropFirst(5).allSatisfy(alphabet.contains), "\(key)")
            let digest = SHA256.hash(data: Array(key.utf8)).map { String(format: "%02x", $0) }.joined()
            #expect(line == "\(digest) acme gold")
            #expect(!line.contains(key))
        }
    }

    @Test("digests are compared over every byte, whatever the first difference")
    func constantTimeEqual() {
        let a = [UInt8](repeating: 7, count: 32)
        for index in [0, 15, 31] {
            var b = a
            b[index] ^= 1
            #expect(!APIKeyStore.constantTimeEqual(a, b))
        }
        #expect(APIKeyStore.constantTimeEqual(a, a))
        #expect(!APIKeyStore.constantTimeEqual(a, Array(a.prefix(31))))
    }
}
