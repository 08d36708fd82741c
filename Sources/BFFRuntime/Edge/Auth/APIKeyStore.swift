import BFFSpec
import Crypto
import Foundation
import HTTPTypes
import Logging
import ServiceLifecycle
import Synchronization

/// API keys, kept only as SHA-256 hashes: from the spec's keys file (re-read when it changes, so a
/// revoked key stops working without a restart) and/or an environment variable.
///
/// Each line is `<sha256 hex of the key> <client id> <plan>`; `#` starts a comment. A presented key
/// is hashed, looked up by its hash, and the stored and computed digests are compared in constant
/// time, so neither the lookup nor the comparison tells how close a wrong key was.
final class APIKeyStore: Service, Sendable {
    struct Entry: Sendable {
        let digest: [UInt8]
        let clientID: String
        let plan: String
    }

    private struct State {
        var fileEntries: [String: Entry] = [:]
        var stamp: FileStamp?
    }

    let spec: APIKeySpec
    let headerName: HTTPField.Name
    private let envEntries: [String: Entry]
    private let state = Mutex(State())
    private let logger: Logger

    init(spec: APIKeySpec, environment: [String: String] = ProcessInfo.processInfo.environment, logger: Logger) throws(SpecLoadError) {
        self.spec = spec
        self.logger = logger
        guard let headerName = HTTPField.Name(spec.header) else {
            throw SpecLoadError([SpecDiagnostic(spec.location, "'\(spec.header)' is not a header name", hint: "e.g. X-Api-Key")])
        }
        self.headerName = headerName
        var envEntries: [String: Entry] = [:]
        // An unset variable holds no keys: the keys file may be the only source in this deployment.
        if let name = spec.env, let text = environment[name] {
            envEntries = Self.parse(text.replacingOccurrences(of: ";", with: "\n"), source: "$\(name)", logger: logger)
        }
        self.envEntries = envEntries
        reloadIfChanged()
    }

    /// The caller a presented key proves, or nil for an unknown or revoked key.
    func authenticate(_ presented: String) -> Principal? {
        guard (1...512).contains(presented.utf8.count) else { return nil }
        let digest = Array(SHA256.hash(data: Array(presented.utf8)))
        let hex = Self.hex(digest)
        guard let entry = state.withLock({ $0.fileEntries[hex] }) ?? envEntries[hex], Self.constantTimeEqual(entry.digest, digest) else { return nil }
        return Principal(method: .apiKey, subject: entry.clientID, clientID: entry.clientID, plan: entry.plan)
    }

    /// Re-reads the keys file whenever it changes, until shutdown.
    func run() async throws {
        guard spec.file != nil else { return }
        while !Task.isCancelled {
            do {
                try await Task.sleep(for: spec.reloadInterval)
            } catch {
                return
            }
            reloadIfChanged()
        }
    }

    /// Reads the keys file if its modification time, size or inode changed since the last read.
    func reloadIfChanged() {
        guard let path = spec.file else { return }
        let stamp = FileStamp(path: path)
        guard state.withLock({ $0.stamp != stamp }) else { return }
        let entries: [String: Entry]
        if let text = try? String(contentsOfFile: path, encoding: .utf8) {
            entries = Self.parse(text, source: path, logger: logger)
            logger.info("API keys loaded", metadata: ["file": "\(path)", "keys": "\(entries.count)"])
        } else {
            entries = [:]
            logger.warning("API keys file cannot be read; no keys from it until it can", metadata: ["file": "\(path)"])
        }
        state.withLock {
            $0.fileEntries = entries
            $0.stamp = stamp
        }
    }

    // MARK: Format

    static func parse(_ text: String, source: String, logger: Logger) -> [String: Entry] {
        var entries: [String: Entry] = [:]
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" })
            if fields.isEmpty { continue }
            guard fields.count == 3, let digest = bytes(hex: fields[0]), digest.count == 32 else {
                logger.warning("skipping a malformed API key line", metadata: ["at": "\(source):\(index + 1)", "expected": "<sha256 hex> <client> <plan>"])
                continue
            }
            entries[hex(digest)] = Entry(digest: digest, clientID: String(fields[1]), plan: String(fields[2]))
        }
        return entries
    }

    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func bytes(hex text: Substring) -> [UInt8]? {
        guard text.utf8.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        var index = text.startIndex
        while index < text.endIndex {
            let next = text.index(index, offsetBy: 2)
            guard let byte = UInt8(text[index..<next], radix: 16) else { return nil }
            bytes.append(byte)
            index = next
        }
        return bytes
    }
}

/// Keys-file lines for new keys, for `bff keys add` and the demo.
public enum APIKeyLine {
    /// A new random key (`bffk_` + 43 base64url characters: 256 bits) and its `<sha256> <client> <plan>` line.
    public static func generate(client: String, plan: String) -> (key: String, line: String) {
        var generator = SystemRandomNumberGenerator()
        let random = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let key = "bffk_" + Data(random).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        return (key, "\(APIKeyStore.hex(Array(SHA256.hash(data: Array(key.utf8))))) \(client) \(plan)")
    }
}
