public import BFFSpec

/// Transcodes between proto3 JSON (as ``JSONValue``) and protobuf binary, following the
/// [proto3 JSON mapping](https://protobuf.dev/programming-guides/json/).
///
/// Output is canonical: binary fields are written in field-number order and JSON members are
/// emitted in field-number order under their JSON names, so results are stable and diffable.
public enum ProtoJSON {
    /// Message nesting allowed in either direction, matching protobuf's own parsers, so hostile
    /// input cannot exhaust the stack.
    public static let maxDepth = 100

    /// Encodes a proto3 JSON value as the binary form of `message`.
    ///
    /// JSON members may use a field's JSON name or its proto name; `null` means "not set"
    /// (except for `google.protobuf.Value`, where it is the null value).
    public static func encode(_ json: JSONValue, as message: MessageDescriptor, pool: DescriptorPool) throws(TranscodingError) -> [UInt8] {
        try JSONToBinary(pool: pool).message(json, message, .root, depth: 0)
    }

    /// Decodes binary `message` bytes into proto3 JSON.
    ///
    /// Unknown fields are dropped; fields without presence are omitted at their default value.
    public static func decode(_ bytes: [UInt8], as message: MessageDescriptor, pool: DescriptorPool) throws(TranscodingError) -> JSONValue {
        try BinaryToJSON(pool: pool).message(bytes[...], message, .root, depth: 0)
    }

    /// Decodes binary `message` bytes held in a slice, such as the payload of a gRPC frame.
    public static func decode(_ bytes: ArraySlice<UInt8>, as message: MessageDescriptor, pool: DescriptorPool) throws(TranscodingError) -> JSONValue {
        try BinaryToJSON(pool: pool).message(bytes, message, .root, depth: 0)
    }
}

/// The well-known types whose JSON form differs from their message structure.
enum WellKnownType {
    case timestamp, duration, wrapper, structure, value, listValue, fieldMask, any

    init?(_ fullName: String) {
        switch fullName {
        case "google.protobuf.Timestamp": self = .timestamp
        case "google.protobuf.Duration": self = .duration
        case "google.protobuf.DoubleValue", "google.protobuf.FloatValue", "google.protobuf.Int64Value",
            "google.protobuf.UInt64Value", "google.protobuf.Int32Value", "google.protobuf.UInt32Value",
            "google.protobuf.BoolValue", "google.protobuf.StringValue", "google.protobuf.BytesValue":
            self = .wrapper
        case "google.protobuf.Struct": self = .structure
        case "google.protobuf.Value": self = .value
        case "google.protobuf.ListValue": self = .listValue
        case "google.protobuf.FieldMask": self = .fieldMask
        case "google.protobuf.Any": self = .any
        default: return nil
        }
    }
}

extension FieldDescriptor {
    /// Whether JSON `null` is a value of this field's element type rather than "not set".
    var elementAcceptsNull: Bool {
        typeName == "google.protobuf.Value" || typeName == "google.protobuf.NullValue"
    }
}

extension DescriptorPool {
    /// The message type of a message field; the pool resolved it at init, so absence means a
    /// descriptor from another pool was passed in.
    func messageType(of field: FieldDescriptor, at path: FieldPath, _ kind: TranscodingError.Kind) throws(TranscodingError) -> MessageDescriptor {
        guard let name = field.typeName, let descriptor = message(name) else {
            throw TranscodingError(kind, path, "message type \(field.typeName ?? "?") of field \(field.name) is not in the descriptor pool")
        }
        return descriptor
    }

    func enumType(of field: FieldDescriptor, at path: FieldPath, _ kind: TranscodingError.Kind) throws(TranscodingError) -> EnumDescriptor {
        guard let name = field.typeName, let descriptor = enumType(name) else {
            throw TranscodingError(kind, path, "enum type \(field.typeName ?? "?") of field \(field.name) is not in the descriptor pool")
        }
        return descriptor
    }
}

/// FieldMask paths are snake_case in binary and lowerCamelCase in JSON; both directions reject
/// paths that would not survive the round trip, as protobuf's reference implementation does.
enum FieldMaskPath {
    static func snakeCase(fromJSON path: String) -> String? {
        var result = ""
        for character in path {
            if character == "_" { return nil }
            if character.isUppercase {
                result += "_" + character.lowercased()
            } else {
                result.append(character)
            }
        }
        return result
    }

    static func camelCase(fromProto path: String) -> String? {
        var result = ""
        var afterUnderscore = false
        for character in path {
            if character.isUppercase { return nil }
            if afterUnderscore {
                guard character.isLowercase else { return nil }
                result += character.uppercased()
                afterUnderscore = false
            } else if character == "_" {
                afterUnderscore = true
            } else {
                result.append(character)
            }
        }
        return afterUnderscore ? nil : result
    }
}
