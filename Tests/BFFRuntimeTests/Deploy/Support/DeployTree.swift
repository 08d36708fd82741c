import ArgumentParser
import BFFRuntime
import BFFSpec
import Foundation
import Yams

@testable import BFFClients

/// The files under deploy/ and what the code, Package.swift and the specs say about them, read the
/// way the manifest tests compare them.
enum DeployTree {
    /// The client types, each with a `<client>-bff` product and a `bff-specs/<client>.yaml`.
    static let clients = ["mobile", "web", "partner", "admin"]

    /// The shared includes deploy/ puts in place of bff-specs/shared/services.yaml: beside the demo
    /// (compose, the dev overlay) and in a cluster (base, prod).
    static let sharedIncludes = ["demo": "deploy/specs/demo/shared/services.yaml", "cluster": "deploy/specs/cluster/shared/services.yaml"]

    static var root: URL { ExecutableTests.repositoryRoot }

    static func url(_ path: String) -> URL { root.appendingPathComponent(path) }

    static func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: url(path).path) }

    static func text(_ path: String) throws -> String {
        do {
            return try String(contentsOf: url(path), encoding: .utf8)
        } catch {
            throw DeployFileError(path, "cannot be read (\(error.localizedDescription))")
        }
    }

    /// Every YAML document in the file.
    static func documents(_ path: String) throws -> [Node] {
        var sequence = try Yams.compose_all(yaml: try text(path))
        var nodes: [Node] = []
        while let node = sequence.next() { nodes.append(node) }
        if let error = sequence.error { throw DeployFileError(path, "is not valid YAML: \(error)") }
        return nodes
    }

    /// The single YAML document in the file.
    static func document(_ path: String) throws -> Node {
        let nodes = try documents(path)
        guard nodes.count == 1 else { throw DeployFileError(path, "should hold one YAML document, holds \(nodes.count)") }
        return nodes[0]
    }

    /// Every file below `folder`, as paths from the repository root, sorted.
    static func files(under folder: String) -> [String] {
        let base = url(folder)
        guard let walker = FileManager.default.enumerator(at: base, includingPropertiesForKeys: [.isRegularFileKey]) else { return [] }
        var paths: [String] = []
        for case let file as URL in walker where (try? file.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true {
            paths.append(folder + "/" + file.path.dropFirst(base.path.count + 1))
        }
        return paths.sorted()
    }

    /// `relative` resolved against the folder of `file` (both from the repository root), normalised.
    static func resolve(_ relative: String, from file: String) -> String {
        var parts = file.split(separator: "/").dropLast().map(String.init)
        for part in relative.split(separator: "/") {
            switch part {
            case ".": continue
            case "..": if !parts.isEmpty { parts.removeLast() }
            default: parts.append(String(part))
            }
        }
        return parts.joined(separator: "/")
    }

    // MARK: What the code says

    /// The executable products Package.swift declares.
    static func executableProducts() throws -> Set<String> {
        let manifest = try text("Package.swift")
        let products = manifest.matches(of: /\.executable\(name: "([^"]+)"/).map { String($0.output.1) }
        guard !products.isEmpty else { throw DeployFileError("Package.swift", "declares no .executable products") }
        return Set(products)
    }

    /// Every Swift source under Sources/, concatenated.
    static func sources() throws -> String {
        try files(under: "Sources").filter { $0.hasSuffix(".swift") }.map(text).joined(separator: "\n")
    }

    /// `bff-specs/<client>.yaml` beside the shared include `variant` (a key of ``sharedIncludes``) and
    /// the partner keys file and the gRPC descriptor sets, laid out in a temporary folder as a container sees /etc/bff.
    static func assembledSpec(client: String, variant: String) throws -> (folder: URL, spec: String) {
        guard let include = sharedIncludes[variant] else { throw DeployFileError(variant, "is not a shared include variant") }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("deploy-\(client)-\(variant)-\(UUID().uuidString)")
        let manager = FileManager.default
        try manager.createDirectory(at: folder.appendingPathComponent("shared"), withIntermediateDirectories: true)
        try manager.createDirectory(at: folder.appendingPathComponent("keys"), withIntermediateDirectories: true)
        try manager.copyItem(at: url("bff-specs/\(client).yaml"), to: folder.appendingPathComponent("\(client).yaml"))
        try manager.copyItem(at: url(include), to: folder.appendingPathComponent("shared/services.yaml"))
        try manager.copyItem(at: url("bff-specs/keys/partner.keys"), to: folder.appendingPathComponent("keys/partner.keys"))
        try manager.copyItem(at: url("bff-specs/protos"), to: folder.appendingPathComponent("protos"))
        return (folder, folder.appendingPathComponent("\(client).yaml").path)
    }

    /// The client's spec with `variant`'s shared include, loaded by the spec loader.
    static func loadedSpec(client: String, variant: String) throws -> ClientSpec {
        let (folder, path) = try assembledSpec(client: client, variant: variant)
        defer { try? FileManager.default.removeItem(at: folder) }
        return try SpecLoader.load(file: path)
    }

    /// The environment variables a spec makes the process read: HMAC secrets and API key lines.
    static func environmentNamed(by spec: ClientSpec) -> (required: Set<String>, optional: Set<String>) {
        var required: Set<String> = []
        for key in spec.edge.auth?.jwt?.keys ?? [] {
            if case .secretEnv(let name) = key.material { required.insert(name) }
        }
        return (required, Set([spec.edge.auth?.apiKeys?.env].compactMap { $0 }))
    }

    /// The server options a BFF executable derives from this environment and no flags, as the
    /// launcher computes them: where it listens, its admin listener, its pre-drain and drain.
    static func serverOptions(spec: ClientSpec, environment: [String: String]) throws -> ServerOptions {
        try ClientOptions.parse([]).serverOptions(spec: spec, environment: environment)
    }

    /// The spec path a BFF executable reads with this environment and no flags.
    static func specPath(client: String, environment: [String: String]) throws -> String {
        try ClientOptions.parse([]).specPath(client: client, environment: environment)
    }

    /// The shipped `bff-specs/<client>.yaml`, loaded.
    static func shippedSpec(client: String) throws -> ClientSpec {
        try SpecLoader.load(file: url("bff-specs/\(client).yaml").path)
    }

    /// The files a spec reads relative to its own folder: its includes, the API keys file and the
    /// gRPC services' descriptor sets, each as a path from that folder.
    static func filesRead(byShippedSpec client: String) throws -> [String] {
        let specFile = "bff-specs/\(client).yaml"
        let folder = (specFile as NSString).deletingLastPathComponent
        var paths: [String] = []
        var files = [specFile]
        var seen: Set<String> = []
        while let file = files.popLast() {
            guard seen.insert(file).inserted else { continue }
            let document = try document(file)
            let includes = (document["include"]?.array() ?? []).compactMap(\.string).map { resolve($0, from: file) }
            var read = includes
            if let keys = document["auth"]?["api_keys"]?["file"]?.string { read.append(resolve(keys, from: file)) }
            for (_, service) in document["services"]?.mapping ?? [:] {
                if let descriptors = service["grpc"]?["descriptor_set"]?.string { read.append(resolve(descriptors, from: file)) }
            }
            paths += read.map { String($0.dropFirst(folder.count + 1)) }
            files += includes
        }
        return paths
    }
}

/// A deploy file that is missing, unreadable or not shaped as the tests expect.
struct DeployFileError: Error, CustomStringConvertible {
    let path: String
    let problem: String

    init(_ path: String, _ problem: String) {
        self.path = path
        self.problem = problem
    }

    var description: String { "\(path) \(problem)" }
}

extension Node {
    /// The node at a path of mapping keys.
    func at(_ keys: String...) -> Node? {
        var node: Node? = self
        for key in keys { node = node?[key] }
        return node
    }

    /// The members of a mapping by key (empty for anything else).
    var members: [(key: String, value: Node)] {
        mapping?.compactMap { key, value in key.string.map { ($0, value) } } ?? []
    }

    /// A scalar's text; nil for mappings and sequences.
    var text: String? { scalar?.string }
}

/// Seconds in a duration such as `15s`, `1m30s` or `90` (compose, systemd).
func seconds(in text: String) -> Double? {
    if let plain = Double(text) { return plain }
    var total = 0.0
    var matched = ""
    for match in text.matches(of: /(\d+(?:\.\d+)?)(ms|s|min|m|h)/) {
        guard let value = Double(match.output.1) else { return nil }
        switch match.output.2 {
        case "ms": total += value / 1000
        case "s": total += value
        case "m", "min": total += value * 60
        default: total += value * 3600
        }
        matched += match.output.0
    }
    return matched == text ? total : nil
}
