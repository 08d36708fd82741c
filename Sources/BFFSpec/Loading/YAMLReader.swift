import Yams

/// Reads Yams nodes into spec values, recording a diagnostic with file:line for every problem
/// instead of stopping at the first, so `bff validate` can list them all.
final class YAMLReader {
    let file: String
    private(set) var diagnostics: [SpecDiagnostic] = []

    init(file: String) {
        self.file = file
    }

    func location(of node: Node) -> SourceLocation {
        SourceLocation(file: file, line: node.mark?.line ?? 1, column: node.mark?.column ?? 1)
    }

    func report(_ node: Node, _ message: String, hint: String? = nil) {
        diagnostics.append(SpecDiagnostic(location(of: node), message, hint: hint))
    }

    func report(_ location: SourceLocation, _ message: String, hint: String? = nil) {
        diagnostics.append(SpecDiagnostic(location, message, hint: hint))
    }

    func absorb(_ other: [SpecDiagnostic]) {
        diagnostics.append(contentsOf: other)
    }

    // MARK: Structure

    /// The members of a mapping, reporting keys outside `allowed` (with the closest allowed key as a hint).
    func mapping(_ node: Node, what: String, allowed: [String]) -> [(key: String, keyNode: Node, value: Node)]? {
        guard let mapping = node.mapping else {
            report(node, "\(what) must be a mapping", hint: "write it as 'key: value' lines or { key: value }")
            return nil
        }
        var members: [(key: String, keyNode: Node, value: Node)] = []
        for (keyNode, value) in mapping {
            guard let key = keyNode.scalar?.string else {
                report(keyNode, "keys in \(what) must be plain names")
                continue
            }
            if !allowed.isEmpty && !allowed.contains(key) {
                let hint = Self.closest(to: key, in: allowed).map { "did you mean '\($0)'?" } ?? "allowed keys: \(allowed.joined(separator: ", "))"
                report(keyNode, "unknown key '\(key)' in \(what)", hint: hint)
                continue
            }
            members.append((key, keyNode, value))
        }
        return members
    }

    func sequence(_ node: Node, what: String) -> [Node]? {
        guard let sequence = node.sequence else {
            report(node, "\(what) must be a list", hint: "write it as '- item' lines or [a, b]")
            return nil
        }
        return Array(sequence)
    }

    // MARK: Scalars

    func string(_ node: Node, what: String) -> String? {
        guard let scalar = node.scalar else {
            report(node, "\(what) must be a single value")
            return nil
        }
        return scalar.string
    }

    func bool(_ node: Node, what: String) -> Bool? {
        switch node.scalar?.string {
        case "true": return true
        case "false": return false
        default:
            report(node, "\(what) must be true or false")
            return nil
        }
    }

    func positiveInt(_ node: Node, what: String) -> Int? {
        guard let text = node.scalar?.string, let value = Int(text), value > 0 else {
            report(node, "\(what) must be a positive whole number")
            return nil
        }
        return value
    }

    func duration(_ node: Node, what: String) -> Duration? {
        guard let text = node.scalar?.string, let value = SpecDuration.parse(text) else {
            report(node, "\(what) '\(node.scalar?.string ?? "?")' is not a duration", hint: SpecDuration.expectedForm)
            return nil
        }
        return value
    }

    /// A byte size: a whole number of bytes, or with a KiB / MiB / GiB suffix.
    func byteSize(_ node: Node, what: String) -> Int? {
        let text = node.scalar?.string ?? ""
        let units: [(String, Int)] = [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10), ("B", 1)]
        for (suffix, scale) in units where text.hasSuffix(suffix) {
            if let n = Int(String(text.dropLast(suffix.count)).trimmingSpaces), n > 0 { return n * scale }
        }
        if let n = Int(text), n > 0 { return n }
        report(node, "\(what) '\(text)' is not a size", hint: "write bytes or a number with KiB, MiB or GiB, e.g. 10MiB")
        return nil
    }

    /// Any YAML value as JSON (fallbacks): plain scalars become null, booleans or numbers when they read as such.
    func json(_ node: Node) -> JSONValue {
        switch node {
        case .scalar(let scalar):
            if scalar.style != .plain { return .string(scalar.string) }
            switch scalar.string {
            case "null", "~", "": return .null
            case "true": return .bool(true)
            case "false": return .bool(false)
            default:
                if let d = Double(scalar.string), d.isFinite { return .number(d) }
                return .string(scalar.string)
            }
        case .sequence(let sequence):
            return .array(sequence.map(json))
        case .mapping(let mapping):
            return .object(mapping.map { ($0.key.scalar?.string ?? "", json($0.value)) })
        case .alias:
            report(node, "YAML aliases are not supported in fallbacks")
            return .null
        }
    }

    // MARK: Suggestions

    /// The allowed word nearest to a typo, if it is near enough to be a likely slip.
    static func closest(to word: String, in candidates: some Sequence<String>) -> String? {
        let scored = candidates.map { ($0, editDistance(word, $0)) }.min { $0.1 < $1.1 }
        guard let (best, distance) = scored, distance <= max(2, word.count / 3) else { return nil }
        return best
    }

    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a.lowercased()), b = Array(b.lowercased())
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }
}
