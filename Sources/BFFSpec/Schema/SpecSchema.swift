/// JSON Schema (draft 2020-12) of the spec language, written from ``SpecGrammar``, the grammar the
/// loader's key tables come from, for editors to complete and check spec files with.
///
/// It accepts what the loader reads: the loader reads a scalar's text, so `burst: "10"` is as good as
/// `burst: 10`, and a text field takes numbers and booleans too. It rejects unknown keys and values of the
/// wrong shape; checks that need more than one value or the file system (services named by calls, a
/// readable `ca_file`, `url` or `urls`) stay with `bff validate`.
///
/// ```swift
/// try SpecSchema.json(for: .spec).write(toFile: "bff-spec.schema.json", atomically: true, encoding: .utf8)
/// ```
public enum SpecSchema {
    /// Which kind of file the schema describes.
    public enum Document: Sendable {
        /// A client's spec, e.g. `bff-specs/mobile.yaml`.
        case spec
        /// A file named by `include:`, e.g. `bff-specs/shared/services.yaml`.
        case include
    }

    /// The schema of `document` as indented JSON text, the same for the same grammar.
    public static func json(for document: Document) -> String {
        schema(for: document).indentedJSONText + "\n"
    }

    static func schema(for document: Document) -> JSONValue {
        let root: SpecSection
        let title: String
        switch document {
        case .spec: (root, title) = (SpecGrammar.spec, "BFF client spec")
        case .include: (root, title) = (SpecGrammar.include, "BFF included file")
        }
        var writer = Writer()
        var members: [(String, JSONValue)] = [
            ("$schema", "https://json-schema.org/draft/2020-12/schema"),
            ("title", .string(title)),
        ]
        members += writer.object(root)
        let sections = reachableSections(from: root).map { ($0.name, JSONValue.object(writer.object($0))) }
        let values = Writer.valueDefinitions.filter { writer.usedValues.contains($0.name) }.map { ($0.name, $0.schema) }
        members.append(("$defs", .object(sections + values)))
        return .object(members)
    }

    /// Every section below `root`, each once, in the order a reader meets them.
    static func reachableSections(from root: SpecSection) -> [SpecSection] {
        var found: [SpecSection] = []
        func visit(_ kind: SpecValueKind) {
            switch kind {
            case .section(let section):
                guard section.name != root.name, !found.contains(where: { $0.name == section.name }) else { return }
                found.append(section)
                section.fields.forEach { visit($0.kind) }
            case .list(let item, _), .map(let item, _): visit(item)
            case .either(let kinds): kinds.forEach(visit)
            case .text, .word, .duration, .positiveInteger, .wholeNumber, .byteSize, .boolean, .share, .pattern, .anything: break
            }
        }
        root.fields.forEach { visit($0.kind) }
        return found
    }

    // MARK: Writing

    /// Writes sections as JSON Schema objects and records which shared value definitions they refer to.
    private struct Writer {
        private(set) var usedValues: Set<String> = []

        /// The members of a section's schema: a closed object of its fields.
        mutating func object(_ section: SpecSection) -> [(String, JSONValue)] {
            var members: [(String, JSONValue)] = [
                ("description", .string(section.summary)),
                ("type", "object"),
                ("properties", .object(section.fields.map { ($0.key, field($0)) })),
            ]
            let required = section.fields.filter(\.isRequired).map { JSONValue.string($0.key) }
            if !required.isEmpty { members.append(("required", .array(required))) }
            members.append(("additionalProperties", false))
            return members
        }

        private mutating func field(_ field: SpecField) -> JSONValue {
            guard case .object(let members) = schema(field.kind) else { return .object([("description", .string(field.summary))]) }
            return .object([("description", .string(field.summary))] + members)
        }

        private mutating func schema(_ kind: SpecValueKind) -> JSONValue {
            switch kind {
            case .text: return ["type": ["string", "number", "boolean"]]
            case .word(let words):
                // An unquoted `1.3` is a number to YAML and the text "1.3" to the loader: accept both.
                let numbers = words.filter { Double($0) != nil }.map(JSONValue.numberText)
                return ["enum": .array(words.map(JSONValue.string) + numbers)]
            case .duration: return reference("duration")
            case .positiveInteger: return reference("positive_integer")
            case .wholeNumber: return reference("whole_number")
            case .byteSize: return reference("byte_size")
            case .boolean: return reference("boolean")
            case .share: return reference("share")
            case .pattern(let pattern): return ["type": "string", "pattern": .string(pattern)]
            case .list(let item, let nonEmpty):
                var members: [(String, JSONValue)] = [("type", "array"), ("items", schema(item))]
                if nonEmpty { members.append(("minItems", 1)) }
                return .object(members)
            case .section(let section): return ["$ref": .string("#/$defs/\(section.name)")]
            case .map(let value, let names):
                var members: [(String, JSONValue)] = [("type", "object")]
                if let names { members.append(("propertyNames", ["pattern": .string(names)])) }
                members.append(("additionalProperties", schema(value)))
                return .object(members)
            case .either(let kinds): return ["anyOf": .array(kinds.map { schema($0) })]
            case .anything: return [:]
            }
        }

        private mutating func reference(_ name: String) -> JSONValue {
            usedValues.insert(name)
            return ["$ref": .string("#/$defs/\(name)")]
        }

        /// Value forms many keys share. Each accepts the YAML number or boolean and the quoted text
        /// alike, since the loader reads the text either way.
        static let valueDefinitions: [(name: String, schema: JSONValue)] = [
            ("duration", [
                "description": "A number with ms, s, m or h, e.g. 300ms, 1.5s or 5m; above zero, at most a day.",
                "type": "string",
                "pattern": #"^\s*\+?(?=[0.]*[1-9])(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?(?:ms|s|m|h)\s*$"#,
            ]),
            ("positive_integer", [
                "description": "A whole number above zero.",
                "anyOf": [["type": "integer", "minimum": 1], ["type": "string", "pattern": #"^\+?0*[1-9][0-9]*$"#]],
            ]),
            ("whole_number", [
                "description": "A whole number, 0 or more.",
                "anyOf": [["type": "integer", "minimum": 0], ["type": "string", "pattern": #"^\+?[0-9]+$"#]],
            ]),
            ("byte_size", [
                "description": "A number of bytes, or one with KiB, MiB or GiB, e.g. 10MiB.",
                "anyOf": [["type": "integer", "minimum": 1], ["type": "string", "pattern": #"^\s*\+?0*[1-9][0-9]*\s*(?:B|KiB|MiB|GiB)?\s*$"#]],
            ]),
            ("boolean", [
                "description": "true or false.",
                "enum": [true, false, "true", "false"],
            ]),
            ("share", [
                "description": "A percentage such as 20%, or a fraction such as 0.2.",
                "anyOf": [
                    ["type": "number", "minimum": 0, "maximum": 1],
                    ["type": "string", "pattern": #"^\+?0*(?:100(?:\.0*)?|[0-9]{1,2}(?:\.[0-9]*)?|\.[0-9]+)%$"#],
                    ["type": "string", "pattern": #"^\+?0*(?:1(?:\.0*)?|0?\.[0-9]+|0)$"#],
                ],
            ]),
        ]
    }
}
