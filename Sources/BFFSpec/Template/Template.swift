/// A call path (`/orders?user={path.id}&limit={query.limit:5}`) or header value, parsed once at load time.
///
/// Literal text is kept verbatim; each variable knows whether it stands in the path or the query, so the
/// runtime can encode its value as exactly one segment or one query value.
public struct Template: Sendable, Hashable, CustomStringConvertible {
    public enum Part: Sendable, Hashable {
        case literal(String)
        case variable(TemplateVariable)
    }

    public var text: String
    public var parts: [Part]

    public var description: String { text }

    public var variables: [TemplateVariable] {
        parts.compactMap {
            if case .variable(let v) = $0 { return v }
            return nil
        }
    }

    /// Every call this template reads from.
    public var callDependencies: Set<String> { Set(variables.compactMap(\.callDependency)) }

    public enum Kind: Sendable {
        /// An upstream path with optional query: must start with `/`.
        case urlPath
        /// A header value.
        case headerValue
    }

    /// Parses a template, throwing a message and hint for malformed placeholders.
    public static func parse(_ text: String, kind: Kind) throws(TemplateSyntaxError) -> Template {
        if kind == .urlPath {
            guard text.hasPrefix("/") else {
                throw TemplateSyntaxError(message: "path '\(text)' does not start with '/'", hint: "write e.g. '/users/{path.id}'")
            }
            if text.contains("#") {
                throw TemplateSyntaxError(message: "path '\(text)' contains '#'", hint: "fragments are never sent to services; remove it")
            }
        }
        var parts: [Part] = []
        var literal = ""
        var inQuery = false
        var iterator = text.makeIterator()
        while let ch = iterator.next() {
            if ch == "}" {
                throw TemplateSyntaxError(message: "unmatched '}' in '\(text)'", hint: "placeholders are written {source.name}")
            }
            guard ch == "{" else {
                if ch == "?" && kind == .urlPath { inQuery = true }
                // Header values may hold spaces (`Bearer {header.token}`); paths must percent-encode them.
                let allowedSpace = ch == " " && kind == .headerValue
                if !allowedSpace && (ch.isWhitespace || ch.asciiValue.map({ $0 < 0x20 || $0 == 0x7F }) == true) {
                    throw TemplateSyntaxError(message: "whitespace or control character in '\(text)'", hint: "percent-encode literal spaces as %20")
                }
                literal.append(ch)
                continue
            }
            var inner = ""
            var closed = false
            while let c = iterator.next() {
                if c == "}" { closed = true; break }
                if c == "{" { break }
                inner.append(c)
            }
            guard closed else {
                throw TemplateSyntaxError(message: "unclosed '{' in '\(text)'", hint: "placeholders are written {source.name}")
            }
            if !literal.isEmpty {
                parts.append(.literal(literal))
                literal = ""
            }
            let placement: TemplateVariable.Placement = kind == .headerValue ? .headerValue : (inQuery ? .queryValue : .pathSegment)
            parts.append(.variable(try parseVariable(inner, placement: placement, in: text)))
        }
        if !literal.isEmpty { parts.append(.literal(literal)) }
        return Template(text: text, parts: parts)
    }

    private static func parseVariable(
        _ inner: String,
        placement: TemplateVariable.Placement,
        in text: String
    ) throws(TemplateSyntaxError) -> TemplateVariable {
        var reference = Substring(inner)
        var defaultValue: String?
        if let colon = inner.firstIndex(of: ":") {
            reference = inner[..<colon]
            defaultValue = String(inner[inner.index(after: colon)...])
        }
        let components = reference.split(separator: ".", omittingEmptySubsequences: false)
        guard !components.isEmpty, components.allSatisfy({ TemplateVariable.isIdentifier($0) }) else {
            throw TemplateSyntaxError(
                message: "bad placeholder '{\(inner)}' in '\(text)'",
                hint: "use {path.X}, {query.X}, {header.X}, {auth.X}, {tls.subject} or {<call>.<field>}, with an optional :default"
            )
        }
        let head = String(components[0])
        let rest = components.dropFirst().map(String.init)
        let source: TemplateVariable.Source
        switch head {
        case "path", "query", "header", "auth":
            guard rest.count == 1 else {
                throw TemplateSyntaxError(message: "'{\(inner)}' names no single \(head) value", hint: "write {\(head).name}")
            }
            switch head {
            case "path": source = .path(rest[0])
            case "query": source = .query(rest[0])
            case "header": source = .header(rest[0].lowercased())
            default: source = .auth(rest[0])
            }
        case "tls":
            guard rest == ["subject"] else {
                throw TemplateSyntaxError(message: "'{\(inner)}' is no TLS value", hint: "the client certificate's subject is {tls.subject}")
            }
            source = .tlsSubject
        default:
            source = rest.isEmpty ? .path(head) : .call(head, path: rest)
        }
        return TemplateVariable(source: source, defaultValue: defaultValue, placement: placement, text: "{\(inner)}")
    }
}

/// A malformed template, with what to write instead.
public struct TemplateSyntaxError: Error, Sendable {
    public var message: String
    public var hint: String
}
