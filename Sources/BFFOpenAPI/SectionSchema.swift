import Foundation
import BFFSpec

/// A JSON Schema as some document writes it, so its `$ref`s can be followed and exported.
struct ScopedSchema {
    var schema: JSONValue
    /// The service whose `openapi:` document the schema comes from; nil for a call's own `schema:`.
    var origin: Origin?

    struct Origin {
        var service: String
        var document: ServiceOpenAPISpec
    }

    /// The schema of a result nothing documents: any JSON.
    static let unknown = ScopedSchema(schema: .object([]), origin: nil)

    var isUnknown: Bool { schema == .object([]) || schema == .bool(true) }

    /// The schema itself rather than a reference to it: `$ref`s followed into the document, a few
    /// deep at most, so a cycle of references ends.
    var resolved: JSONValue {
        var current = schema
        for _ in 0..<8 {
            guard let name = current["$ref"].flatMap(Self.componentName), let target = origin?.document.schema(named: name) else { break }
            current = target
        }
        return current
    }

    /// The part a `from:` path step reaches: a property (looking into `allOf` too), or an array's
    /// elements for a numeric step.
    func member(_ name: String) -> ScopedSchema {
        let here = resolved
        if let property = here["properties"]?[name] { return ScopedSchema(schema: property, origin: origin) }
        if case .array(let parts)? = here["allOf"] {
            for part in parts {
                let found = ScopedSchema(schema: part, origin: origin).member(name)
                if !found.isUnknown { return found }
            }
        }
        if Int(name) != nil, let items = here["items"] { return ScopedSchema(schema: items, origin: origin) }
        return .unknown
    }

    /// The part a `from:` path reaches.
    func at(_ path: [String]) -> ScopedSchema {
        path.reduce(self) { $0.member($1) }
    }

    /// Only `fields` of an object, or of each object of an array (`fields:`). A field the object
    /// may lack stays optional.
    func keeping(_ fields: [String]) -> ScopedSchema {
        // Nothing documents the result: it may be an object or an array of them, so it stays any JSON.
        if isUnknown { return self }
        let here = resolved
        if here["type"] == "array", let items = here["items"] {
            let kept = ScopedSchema(schema: items, origin: origin).keeping(fields)
            return ScopedSchema(schema: ["type": "array", "items": kept.schema], origin: origin)
        }
        var members: [(String, JSONValue)] = []
        if here["type"] == "object" { members.append(("type", "object")) }
        members.append(("properties", .object(fields.map { ($0, member($0).schema) })))
        if case .array(let required)? = here["required"] {
            let kept = required.filter { $0.templateText.map(fields.contains) == true }
            if !kept.isEmpty { members.append(("required", .array(kept))) }
        }
        return ScopedSchema(schema: .object(members), origin: origin)
    }

    /// At most `limit` elements of an array (`limit:`).
    func limited(to limit: Int) -> ScopedSchema {
        guard case .object(let members) = resolved, resolved["type"] == "array" else { return self }
        return ScopedSchema(schema: .object(members.filter { $0.0 != "maxItems" } + [("maxItems", .number(Double(limit)))]), origin: origin)
    }

    /// `User` for `#/components/schemas/User`; nil for references anywhere else.
    static func componentName(_ reference: JSONValue) -> String? {
        let prefix = "#/components/schemas/"
        guard case .string(let text) = reference, text.hasPrefix(prefix) else { return nil }
        return String(text.dropFirst(prefix.count)).replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
    }
}

/// The schemas of services' documents that the BFF's document refers to, copied under
/// `<service>.<name>` so two services' `User`s stay apart.
struct ServiceSchemas {
    private(set) var components: [(key: String, schema: JSONValue, origin: ScopedSchema.Origin)] = []
    private var exported: Set<String> = []

    /// `scoped` as the BFF's document writes it: its references point at the copies, which are
    /// added (with whatever they refer to in turn) the first time.
    mutating func export(_ scoped: ScopedSchema) -> JSONValue {
        rewrite(scoped.schema, origin: scoped.origin)
    }

    private mutating func rewrite(_ value: JSONValue, origin: ScopedSchema.Origin?) -> JSONValue {
        switch value {
        case .object(let members):
            guard let reference = value["$ref"] else {
                return .object(members.map { ($0.0, rewrite($0.1, origin: origin)) })
            }
            let siblings = members.filter { $0.0 != "$ref" }.map { ($0.0, rewrite($0.1, origin: origin)) }
            guard let origin, let name = ScopedSchema.componentName(reference), let target = origin.document.schema(named: name) else {
                // The loader reports such references in service documents; a hand-built one is left undescribed.
                return .object(siblings)
            }
            let key = Self.key(service: origin.service, name: name)
            if exported.insert(key).inserted {
                let index = components.count
                components.append((key, .null, origin))
                components[index].schema = rewrite(target, origin: origin)
            }
            return .object([("$ref", .string("#/components/schemas/\(key)"))] + siblings)
        case .array(let items):
            return .array(items.map { rewrite($0, origin: origin) })
        default:
            return value
        }
    }

    /// A component name OpenAPI accepts (letters, digits, `.`, `-`, `_`).
    static func key(service: String, name: String) -> String {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_")
        return String("\(service).\(name)".map { allowed.contains($0) ? $0 : "_" })
    }
}
