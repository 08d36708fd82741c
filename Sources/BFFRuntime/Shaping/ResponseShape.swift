import BFFSpec

/// Which sections an aggregated response has and where each comes from, compiled once per endpoint.
struct ResponseShape: Sendable {
    struct Field: Sendable {
        let key: String
        /// `"key":`, rendered once.
        let keyPrefix: [UInt8]
        let callIndex: Int
        let path: [String]
        let fields: [String]?
        let limit: Int?

        init(key: String, callIndex: Int, path: [String], fields: [String]?, limit: Int?) {
            self.key = key
            var prefix: [UInt8] = []
            JSONValue.writeString(key, to: &prefix)
            prefix.append(UInt8(ascii: ":"))
            self.keyPrefix = prefix
            self.callIndex = callIndex
            self.path = path
            self.fields = fields
            self.limit = limit
        }

        /// The call's bytes can be spliced in without parsing.
        var isPassThrough: Bool { path.isEmpty && fields == nil && limit == nil }
    }

    let fields: [Field]

    /// From the spec's `response:`, or one pass-through section per call when there is none.
    init(aggregate: AggregateSpec) {
        let index = Dictionary(uniqueKeysWithValues: aggregate.calls.enumerated().map { ($1.name, $0) })
        if let response = aggregate.response {
            fields = response.map { Field(key: $0.key, callIndex: index[$0.call]!, path: $0.path, fields: $0.fields, limit: $0.limit) }
        } else {
            fields = aggregate.calls.enumerated().map { Field(key: $1.name, callIndex: $0, path: [], fields: nil, limit: nil) }
        }
    }

    /// Applies `path`, then `limit`, then `fields` to a call's value.
    static func shape(_ value: JSONValue, path: [String], fields: [String]?, limit: Int?) -> JSONValue {
        var result = value.value(at: path) ?? .null
        if let limit, case .array(let items) = result {
            result = .array(Array(items.prefix(limit)))
        }
        if let fields {
            result = project(result, fields: fields)
        }
        return result
    }

    private static func project(_ value: JSONValue, fields: [String]) -> JSONValue {
        switch value {
        case .object(let members):
            return .object(fields.compactMap { name in members.first(where: { $0.0 == name }) })
        case .array(let items):
            return .array(items.map { project($0, fields: fields) })
        default:
            return value
        }
    }
}
