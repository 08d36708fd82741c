/// The scalar, enum or message kind of a field, numbered as in `FieldDescriptorProto.Type`.
public enum FieldType: Int, Sendable {
    case double = 1, float, int64, uint64, int32, fixed64, fixed32, bool, string, group, message, bytes
    case uint32 = 13, `enum`, sfixed32, sfixed64, sint32, sint64

    /// The wire type a single value of this kind is written with.
    var wireType: WireType {
        switch self {
        case .double, .fixed64, .sfixed64: return .fixed64
        case .float, .fixed32, .sfixed32: return .fixed32
        case .string, .bytes, .message: return .lengthDelimited
        case .group: return .startGroup
        case .int64, .uint64, .int32, .bool, .uint32, .enum, .sint32, .sint64: return .varint
        }
    }

    /// Whether repeated fields of this kind may use packed encoding.
    var isPackable: Bool { wireType != .lengthDelimited && wireType != .startGroup }
}

/// One field of a message, with its type reference already resolved against the pool.
public struct FieldDescriptor: Sendable {
    /// The name in the .proto file (`display_name`).
    public let name: String
    /// The proto3 JSON name (`displayName`, or an explicit `json_name`).
    public let jsonName: String
    /// The field number on the wire.
    public let number: Int
    /// The declared type; for maps this is `.message` (the entry type).
    public let type: FieldType
    /// True for `repeated` fields, including maps.
    public let isRepeated: Bool
    /// Fully-qualified name, without a leading dot, of the message or enum type; nil for scalars.
    public let typeName: String?
    /// Index into the containing message's ``MessageDescriptor/oneofNames``, including the
    /// synthetic oneof protoc creates for each proto3 `optional` field.
    public let oneofIndex: Int?
    /// Declared with proto3 `optional`, so its oneof is synthetic rather than a real choice.
    public let isProto3Optional: Bool
    /// Whether "set to the default value" is distinguishable from "not set", so a default
    /// value must still be written and printed.
    public let hasPresence: Bool
    /// Whether this is a `map<K, V>` field (a repeated field of a map-entry message).
    public let isMap: Bool
    /// Whether repeated values are written packed.
    public let isPacked: Bool
}

/// A message type: its fields in field-number order and its oneofs.
public struct MessageDescriptor: Sendable {
    /// Fully-qualified name without a leading dot (`bfftest.v1.User.Address`).
    public let fullName: String
    /// Fields sorted by number, the order both binary and JSON output use.
    public let fields: [FieldDescriptor]
    /// Oneof names in declaration order, indexed by ``FieldDescriptor/oneofIndex``.
    public let oneofNames: [String]
    /// True for the synthetic `KeyEntry` messages protoc generates for map fields.
    public let isMapEntry: Bool
    let fieldIndexByNumber: [Int: Int]
    let fieldIndexByJSONKey: [String: Int]

    init(fullName: String, fields: [FieldDescriptor], oneofNames: [String], isMapEntry: Bool) {
        self.fullName = fullName
        self.fields = fields.sorted { $0.number < $1.number }
        self.oneofNames = oneofNames
        self.isMapEntry = isMapEntry
        var byNumber: [Int: Int] = [:]
        var byKey: [String: Int] = [:]
        for (index, field) in self.fields.enumerated() {
            byNumber[field.number] = index
            // JSON input may use either name; the JSON name wins if one field's JSON name is another's proto name.
            if byKey[field.name] == nil { byKey[field.name] = index }
            byKey[field.jsonName] = index
        }
        fieldIndexByNumber = byNumber
        fieldIndexByJSONKey = byKey
    }

    /// The field with this number, or nil.
    public func field(number: Int) -> FieldDescriptor? {
        fieldIndexByNumber[number].map { fields[$0] }
    }

    /// The field a JSON member name refers to: its JSON name or its proto name.
    public func field(jsonKey: String) -> FieldDescriptor? {
        fieldIndexByJSONKey[jsonKey].map { fields[$0] }
    }
}

/// An enum type and its values; several names may share a number (`allow_alias`).
public struct EnumDescriptor: Sendable {
    /// Fully-qualified name without a leading dot (`bfftest.v1.Role`).
    public let fullName: String
    /// Values in declaration order.
    public let values: [(name: String, number: Int32)]
    let numberByName: [String: Int32]
    let nameByNumber: [Int32: String]

    init(fullName: String, values: [(name: String, number: Int32)]) {
        self.fullName = fullName
        self.values = values
        var byName: [String: Int32] = [:]
        var byNumber: [Int32: String] = [:]
        for value in values {
            byName[value.name] = value.number
            // The first declared name is canonical when numbers are aliased.
            if byNumber[value.number] == nil { byNumber[value.number] = value.name }
        }
        numberByName = byName
        nameByNumber = byNumber
    }

    /// The number of the value with this name, or nil.
    public func number(named name: String) -> Int32? { numberByName[name] }

    /// The canonical name of the value with this number, or nil for a number the enum does not declare.
    public func name(of number: Int32) -> String? { nameByNumber[number] }
}

/// An RPC method with its request and response types resolved.
public struct MethodDescriptor: Sendable {
    /// The gRPC request path without the leading slash: `users.v1.Users/GetUser`.
    public let path: String
    /// Fully-qualified service name: `users.v1.Users`.
    public let serviceName: String
    /// The method's own name: `GetUser`.
    public let name: String
    /// The request message type.
    public let input: MessageDescriptor
    /// The response message type.
    public let output: MessageDescriptor
    /// Whether the client sends a stream of requests.
    public let clientStreaming: Bool
    /// Whether the server replies with a stream of responses.
    public let serverStreaming: Bool
}

/// Why a descriptor set could not be loaded.
public enum DescriptorError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The bytes are not a well-formed FileDescriptorSet; `context` names the element being read.
    case malformed(context: String, offset: Int, reason: String)
    /// A field or method refers to a type that no file in the set defines.
    case unresolvedType(typeName: String, referencedBy: String)
    /// Two files define the same fully-qualified name.
    case duplicateName(String)
    /// A field declares something this library cannot represent (such as an unknown type number).
    case invalidField(String, reason: String)

    public var description: String {
        switch self {
        case .malformed(let context, let offset, let reason):
            return "malformed descriptor set in \(context) at byte \(offset): \(reason)"
        case .unresolvedType(let typeName, let referencedBy):
            return "\(referencedBy) refers to type \(typeName), which the descriptor set does not define"
        case .duplicateName(let name):
            return "\(name) is defined more than once in the descriptor set"
        case .invalidField(let field, let reason):
            return "field \(field): \(reason)"
        }
    }
}
