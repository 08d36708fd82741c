import Foundation
import Yams

extension SpecLoader {
    /// A call's `schema:`, a JSON Schema written inline: a mapping (or `true` / `false`) without
    /// `$ref`, since nothing outside it is there to refer to.
    static func readCallSchema(_ node: Node, call: String, reader: YAMLReader) -> JSONValue? {
        if node.scalar != nil {
            return reader.bool(node, what: "schema of call '\(call)'").map(JSONValue.bool)
        }
        guard node.mapping != nil else {
            reader.report(node, "schema of call '\(call)' must be a JSON Schema mapping", hint: "write e.g. 'schema: { type: object, properties: { id: { type: string } } }'")
            return nil
        }
        var clean = true
        for (reference, _) in references(in: node) {
            clean = false
            reader.report(reference, "schema of call '\(call)' has a $ref", hint: "write the referenced schema out in place, or give the service an 'openapi:' document")
        }
        return clean ? reader.json(node) : nil
    }

    /// A service's `openapi:`: its OpenAPI 3.0 or 3.1 document, whose operations' 200 JSON schemas
    /// become the schemas of the sections its calls fill. Problems inside the document are
    /// reported at its own file and line.
    static func readServiceOpenAPI(_ node: Node, reader: YAMLReader) -> ServiceOpenAPISpec? {
        guard let relative = reader.string(node, what: "openapi") else { return nil }
        let path = resolve(relative, reader: reader)
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            reader.report(node, "openapi document '\(path)' cannot be read", hint: "give the service's OpenAPI 3 document (JSON or YAML), relative to this spec")
            return nil
        }
        let document = YAMLReader(file: path)
        defer { reader.absorb(document.diagnostics) }
        guard let root = compose(text, reader: document, file: path),
            let members = document.mapping(root, what: "an OpenAPI document", allowed: [])
        else { return nil }
        guard let version = members.first(where: { $0.key == "openapi" }) else {
            let hint = members.contains { $0.key == "swagger" } ? "convert the Swagger 2.0 document to OpenAPI 3" : "add e.g. 'openapi: 3.1.0' at the top"
            document.report(root, "the document has no 'openapi' version", hint: hint)
            return nil
        }
        guard let text = document.string(version.value, what: "openapi"), text.hasPrefix("3.") else {
            document.report(version.value, "OpenAPI version '\(version.value.scalar?.string ?? "?")' is not 3.x", hint: "give an OpenAPI 3.0 or 3.1 document")
            return nil
        }
        let components = members.first { $0.key == "components" }.flatMap { document.mapping($0.value, what: "components", allowed: []) } ?? []
        let responses = components.first { $0.key == "responses" }.flatMap { document.mapping($0.value, what: "components.responses", allowed: []) } ?? []
        let schemas = components.first { $0.key == "schemas" }.flatMap { document.mapping($0.value, what: "components.schemas", allowed: []) } ?? []
        let names = Set(schemas.map(\.key))
        var operations: [ServiceOpenAPISpec.Operation] = []
        let paths = members.first { $0.key == "paths" }.flatMap { document.mapping($0.value, what: "paths", allowed: []) } ?? []
        for (operationPath, _, item) in paths {
            for (method, _, operation) in document.mapping(item, what: "path '\(operationPath)'", allowed: []) ?? [] where httpMethods.contains(method) {
                let schema = responseSchema(operation, responses: responses, document: document, names: names)
                operations.append(ServiceOpenAPISpec.Operation(method: method.uppercased(), path: operationPath, responseSchema: schema))
            }
        }
        for (_, _, schema) in schemas { checkReferences(in: schema, names: names, document: document) }
        return ServiceOpenAPISpec(
            file: path,
            operations: operations,
            schemas: schemas.map { (name: $0.key, schema: document.json($0.value)) },
            location: reader.location(of: node)
        )
    }

    private static let httpMethods: Set<String> = ["get", "put", "post", "delete", "options", "head", "patch", "trace"]

    /// The schema of an operation's 200 JSON answer, following a `$ref` to `components.responses`.
    private static func responseSchema(
        _ operation: Node,
        responses components: [(key: String, keyNode: Node, value: Node)],
        document: YAMLReader,
        names: Set<String>
    ) -> JSONValue? {
        guard var response = member(operation, "responses").flatMap({ member($0, "200") }) else { return nil }
        if let reference = member(response, "$ref")?.scalar?.string {
            let prefix = "#/components/responses/"
            guard reference.hasPrefix(prefix), let target = components.first(where: { $0.key == reference.dropFirst(prefix.count) }) else {
                document.report(response, "response $ref '\(reference)' names no entry of components.responses", hint: "refer to a response of this document, e.g. '#/components/responses/User'")
                return nil
            }
            response = target.value
        }
        guard let content = member(response, "content")?.mapping else { return nil }
        let json = content.first { $0.key.scalar?.string == "application/json" } ?? content.first { $0.key.scalar?.string.hasSuffix("json") == true }
        guard let schema = json.flatMap({ member($0.value, "schema") }) else { return nil }
        checkReferences(in: schema, names: names, document: document)
        return document.json(schema)
    }

    /// Reports each `$ref` in a schema that names no schema of the document's `components.schemas`:
    /// only those are copied into the BFF's document.
    private static func checkReferences(in schema: Node, names: Set<String>, document: YAMLReader) {
        let prefix = "#/components/schemas/"
        for (_, value) in references(in: schema) {
            let reference = value.scalar?.string ?? "?"
            if !(reference.hasPrefix(prefix) && names.contains(String(reference.dropFirst(prefix.count)))) {
                document.report(value, "$ref '\(reference)' names no schema of components.schemas", hint: "refer to '#/components/schemas/<name>' of this document; other files are not followed")
            }
        }
    }

    /// The value of `key` in a mapping, whatever tag the key's scalar resolved to (`200:` is an int in YAML, a string in JSON).
    private static func member(_ node: Node, _ key: String) -> Node? {
        node.mapping?.first { $0.key.scalar?.string == key }?.value
    }

    /// Every `$ref` inside a YAML value, its key and its value.
    private static func references(in node: Node) -> [(key: Node, value: Node)] {
        if let mapping = node.mapping {
            return mapping.flatMap { key, value in (key.scalar?.string == "$ref" ? [(key, value)] : []) + references(in: value) }
        }
        return node.sequence?.flatMap(references) ?? []
    }
}
