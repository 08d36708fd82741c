/// `openapi: openapi/users.yaml` on a service: the service's own OpenAPI 3 document (JSON or
/// YAML), read once at load time so a BFF's document can give each call's section the schema of
/// the operation the call reaches.
public struct ServiceOpenAPISpec: Sendable {
    /// One operation of the service and the schema of its 200 JSON answer.
    public struct Operation: Sendable {
        /// Upper case, as in routes: `GET`.
        public var method: String
        /// As the document writes it: `/users/{id}`.
        public var path: String
        /// The 200 response's JSON schema; nil when the operation documents none.
        public var responseSchema: JSONValue?

        public init(method: String, path: String, responseSchema: JSONValue?) {
            self.method = method
            self.path = path
            self.responseSchema = responseSchema
        }
    }

    /// The document, resolved against the folder of the spec that names it.
    public var file: String
    public var operations: [Operation]
    /// `components.schemas`, which the response schemas reference as `#/components/schemas/<name>`.
    public var schemas: [(name: String, schema: JSONValue)]
    /// Where `openapi:` is written.
    public var location: SourceLocation

    public init(file: String, operations: [Operation], schemas: [(name: String, schema: JSONValue)], location: SourceLocation) {
        self.file = file
        self.operations = operations
        self.schemas = schemas
        self.location = location
    }

    /// The schema named `name` in `components.schemas`.
    public func schema(named name: String) -> JSONValue? {
        schemas.first { $0.name == name }?.schema
    }

    /// The operation a call with `method` and `path` reaches, by path segments without the query:
    /// a literal segment matches itself, a `{param}` segment any one segment. Of several matches
    /// the one with the most literal segments wins, as a router would pick it.
    public func operation(method: String, path: Template) -> Operation? {
        let call = Self.segments(of: path)
        var best: (operation: Operation, literals: Int)?
        for operation in operations where operation.method == method {
            let segments = operation.path.split(separator: "/", omittingEmptySubsequences: true)
            guard segments.count == call.count else { continue }
            var literals = 0
            let matches = zip(segments, call).allSatisfy { documented, called in
                if documented.contains("{") { return true }
                guard case .literal(let text) = called, text == documented else { return false }
                literals += 1
                return true
            }
            if matches && literals > (best?.literals ?? -1) { best = (operation, literals) }
        }
        return best?.operation
    }

    private enum CallSegment {
        case literal(String)
        /// A segment with a placeholder in it: its value is known only per request.
        case variable
    }

    private static func segments(of path: Template) -> [CallSegment] {
        var segments: [CallSegment] = []
        var current = ""
        var hasVariable = false
        func close() {
            if hasVariable {
                segments.append(.variable)
            } else if !current.isEmpty {
                segments.append(.literal(current))
            }
            current = ""
            hasVariable = false
        }
        parts: for part in path.parts {
            switch part {
            case .variable(let variable):
                guard variable.placement == .pathSegment else { break parts }
                hasVariable = true
            case .literal(let text):
                for character in text {
                    if character == "?" { break parts }
                    if character == "/" { close() } else { current.append(character) }
                }
            }
        }
        close()
        return segments
    }
}
