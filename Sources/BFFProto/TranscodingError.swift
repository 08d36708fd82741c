import BFFSpec

/// Why a message could not be transcoded, and where in it.
public struct TranscodingError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Which side is at fault, so a gateway can answer 400 for bad client JSON and 502 for a bad upstream reply.
    public enum Kind: Sendable, Equatable {
        /// The JSON does not fit the message type.
        case invalidJSON
        /// The protobuf bytes are malformed or do not fit the message type.
        case invalidBinary
        /// The message uses a feature this library does not transcode (groups, `google.protobuf.Any`).
        case unsupported
    }

    /// Whose input was at fault.
    public let kind: Kind
    /// The field path in JSON terms (`user.address.zip`, `tags[2]`, `counters["k"]`); empty for the top level.
    public let path: String
    /// What was wrong, such as `expected a string, got a number`.
    public let reason: String

    public var description: String { path.isEmpty ? reason : "\(path): \(reason)" }

    init(_ kind: Kind, _ path: FieldPath, _ reason: String) {
        self.kind = kind
        self.path = path.rendered
        self.reason = reason
    }
}

/// A location inside a message, rendered only when an error is reported.
indirect enum FieldPath: Sendable {
    case root
    case field(FieldPath, String)
    case index(FieldPath, Int)
    case key(FieldPath, String)

    func field(_ name: String) -> FieldPath { .field(self, name) }
    func index(_ index: Int) -> FieldPath { .index(self, index) }
    func key(_ key: String) -> FieldPath { .key(self, key) }

    var rendered: String {
        switch self {
        case .root: return ""
        case .field(.root, let name): return name
        case .field(let parent, let name): return "\(parent.rendered).\(name)"
        case .index(let parent, let index): return "\(parent.rendered)[\(index)]"
        case .key(let parent, let key):
            var quoted: [UInt8] = []
            JSONValue.writeString(key, to: &quoted)
            return "\(parent.rendered)[\(String(decoding: quoted, as: UTF8.self))]"
        }
    }
}

extension JSONValue {
    /// How error messages name a JSON value's type.
    var kindDescription: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .number, .numberText: return "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }
}
