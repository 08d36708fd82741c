/// Where something was written in a spec file.
public struct SourceLocation: Sendable, Hashable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int

    public init(file: String, line: Int, column: Int = 1) {
        self.file = file
        self.line = line
        self.column = column
    }

    public var description: String { "\(file):\(line):\(column)" }
}

/// One problem found while loading a spec: what is wrong, where, and what to do about it.
public struct SpecDiagnostic: Sendable, CustomStringConvertible {
    public var location: SourceLocation
    public var message: String
    public var hint: String?

    public init(_ location: SourceLocation, _ message: String, hint: String? = nil) {
        self.location = location
        self.message = message
        self.hint = hint
    }

    public var description: String {
        guard let hint else { return "\(location): error: \(message)" }
        return "\(location): error: \(message); \(hint)"
    }
}

/// A spec that cannot be served, with every problem found in it (not just the first).
public struct SpecLoadError: Error, Sendable, CustomStringConvertible {
    public var diagnostics: [SpecDiagnostic]

    public init(_ diagnostics: [SpecDiagnostic]) {
        self.diagnostics = diagnostics
    }

    public var description: String { diagnostics.map(\.description).joined(separator: "\n") }
}

extension SpecDiagnostic {
    /// The candidate nearest to `word` by edit distance, when one is near enough to suggest.
    public static func closest(to word: String, in candidates: some Sequence<String>) -> String? {
        YAMLReader.closest(to: word, in: candidates)
    }
}
