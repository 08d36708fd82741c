/// The message, enum and method descriptors of a compiled FileDescriptorSet, with every type
/// reference resolved.
///
/// Built from the binary output of `protoc --include_imports --descriptor_set_out=…`, read with
/// the hand-written wire reader so the gateway needs no protobuf runtime.
public struct DescriptorPool: Sendable {
    private let messages: [String: MessageDescriptor]
    private let enums: [String: EnumDescriptor]
    private let methods: [String: MethodDescriptor]

    /// Parses a serialized `google.protobuf.FileDescriptorSet`.
    ///
    /// A file whose name was already seen is skipped, so concatenated descriptor sets (each with
    /// its own copy of the well-known types) load. Every field type and method input/output type
    /// must be defined somewhere in the set.
    public init(descriptorSet: [UInt8]) throws(DescriptorError) {
        let files = try RawDescriptors.parseSet(descriptorSet)
        var rawMessages: [String: (RawMessage, syntax: String)] = [:]
        var rawEnums: [String: RawEnum] = [:]
        var seenFiles: Set<String> = []
        var services: [(fullName: String, RawService)] = []

        func register(_ message: RawMessage, scope: String, syntax: String) throws(DescriptorError) {
            let fullName = scope.isEmpty ? message.name : "\(scope).\(message.name)"
            guard rawMessages[fullName] == nil, rawEnums[fullName] == nil else { throw .duplicateName(fullName) }
            rawMessages[fullName] = (message, syntax)
            for nested in message.nestedTypes { try register(nested, scope: fullName, syntax: syntax) }
            for nested in message.enums { try registerEnum(nested, scope: fullName) }
        }
        func registerEnum(_ raw: RawEnum, scope: String) throws(DescriptorError) {
            let fullName = scope.isEmpty ? raw.name : "\(scope).\(raw.name)"
            guard rawMessages[fullName] == nil, rawEnums[fullName] == nil else { throw .duplicateName(fullName) }
            rawEnums[fullName] = raw
        }

        for file in files where seenFiles.insert(file.name).inserted {
            for message in file.messages { try register(message, scope: file.package, syntax: file.syntax) }
            for raw in file.enums { try registerEnum(raw, scope: file.package) }
            for service in file.services {
                services.append((file.package.isEmpty ? service.name : "\(file.package).\(service.name)", service))
            }
        }

        var enums: [String: EnumDescriptor] = [:]
        for (fullName, raw) in rawEnums { enums[fullName] = EnumDescriptor(fullName: fullName, values: raw.values) }

        var messages: [String: MessageDescriptor] = [:]
        for (fullName, (raw, syntax)) in rawMessages {
            var fields: [FieldDescriptor] = []
            for field in raw.fields {
                fields.append(try Self.resolve(field, in: fullName, syntax: syntax, messages: rawMessages, enums: rawEnums))
            }
            messages[fullName] = MessageDescriptor(
                fullName: fullName, fields: fields, oneofNames: raw.oneofNames, isMapEntry: raw.isMapEntry)
        }

        var methods: [String: MethodDescriptor] = [:]
        for (serviceName, service) in services {
            for method in service.methods {
                let path = "\(serviceName)/\(method.name)"
                func lookUp(_ typeName: String) throws(DescriptorError) -> MessageDescriptor {
                    guard let found = messages[Self.stripDot(typeName)] else {
                        throw .unresolvedType(typeName: typeName, referencedBy: "method \(path)")
                    }
                    return found
                }
                guard methods[path] == nil else { throw .duplicateName(path) }
                methods[path] = MethodDescriptor(
                    path: path, serviceName: serviceName, name: method.name,
                    input: try lookUp(method.inputType), output: try lookUp(method.outputType),
                    clientStreaming: method.clientStreaming, serverStreaming: method.serverStreaming)
            }
        }
        self.messages = messages
        self.enums = enums
        self.methods = methods
    }

    /// The method at a gRPC path such as `users.v1.Users/GetUser` or `/users.v1.Users/GetUser`.
    public func method(_ path: String) -> MethodDescriptor? {
        methods[path.hasPrefix("/") ? String(path.dropFirst()) : path]
    }

    /// The message with this fully-qualified name (a leading dot is accepted).
    public func message(_ fullName: String) -> MessageDescriptor? {
        messages[Self.stripDot(fullName)]
    }

    /// The enum with this fully-qualified name (a leading dot is accepted).
    public func enumType(_ fullName: String) -> EnumDescriptor? {
        enums[Self.stripDot(fullName)]
    }

    /// All method paths, sorted.
    public var methodPaths: [String] { methods.keys.sorted() }

    private static func stripDot(_ name: String) -> String {
        name.hasPrefix(".") ? String(name.dropFirst()) : name
    }

    private static func resolve(
        _ raw: RawField, in messageName: String, syntax: String,
        messages: [String: (RawMessage, syntax: String)], enums: [String: RawEnum]
    ) throws(DescriptorError) -> FieldDescriptor {
        let qualified = "\(messageName).\(raw.name)"
        guard let type = FieldType(rawValue: raw.type) else {
            throw .invalidField(qualified, reason: "unknown field type \(raw.type)")
        }
        guard raw.number > 0 else { throw .invalidField(qualified, reason: "field number \(raw.number)") }
        var typeName: String?
        var isMap = false
        if type == .message || type == .enum || type == .group {
            let name = stripDot(raw.typeName)
            if type == .enum {
                guard enums[name] != nil else { throw .unresolvedType(typeName: raw.typeName, referencedBy: "field \(qualified)") }
            } else {
                guard let target = messages[name] else {
                    throw .unresolvedType(typeName: raw.typeName, referencedBy: "field \(qualified)")
                }
                isMap = raw.isRepeated && target.0.isMapEntry
            }
            typeName = name
        }
        // proto2 and editions files give every singular field explicit presence; proto3 only
        // message fields, oneof members and `optional` fields.
        let explicitPresence = syntax != "proto3"
        let hasPresence = !raw.isRepeated && (explicitPresence || type == .message || raw.oneofIndex != nil)
        let packedByDefault = syntax != "proto2" && !syntax.isEmpty
        return FieldDescriptor(
            name: raw.name,
            jsonName: raw.jsonName ?? jsonName(for: raw.name),
            number: Int(raw.number),
            type: type,
            isRepeated: raw.isRepeated,
            typeName: typeName,
            oneofIndex: raw.oneofIndex.map(Int.init),
            isProto3Optional: raw.proto3Optional,
            hasPresence: hasPresence,
            isMap: isMap,
            isPacked: raw.isRepeated && type.isPackable && (raw.packed ?? packedByDefault))
    }

    /// protoc's default JSON name: underscores dropped and the following letter upper-cased.
    static func jsonName(for name: String) -> String {
        var result = ""
        var upperNext = false
        for character in name {
            if character == "_" {
                upperNext = true
            } else if upperNext {
                result += character.uppercased()
                upperNext = false
            } else {
                result.append(character)
            }
        }
        return result
    }
}

// MARK: - Raw descriptor protos

struct RawFile {
    var name = ""
    var package = ""
    var syntax = ""
    var messages: [RawMessage] = []
    var enums: [RawEnum] = []
    var services: [RawService] = []
}

struct RawMessage {
    var name = ""
    var fields: [RawField] = []
    var nestedTypes: [RawMessage] = []
    var enums: [RawEnum] = []
    var oneofNames: [String] = []
    var isMapEntry = false
}

struct RawField {
    var name = ""
    var number: Int32 = 0
    var isRepeated = false
    var type = 0
    var typeName = ""
    var jsonName: String?
    var oneofIndex: Int32?
    var proto3Optional = false
    var packed: Bool?
}

struct RawEnum {
    var name = ""
    var values: [(name: String, number: Int32)] = []
}

struct RawService {
    var name = ""
    var methods: [RawMethod] = []
}

struct RawMethod {
    var name = ""
    var inputType = ""
    var outputType = ""
    var clientStreaming = false
    var serverStreaming = false
}

/// Reads the subset of descriptor.proto the transcoder needs; every other field is skipped.
/// Field numbers are those of google/protobuf/descriptor.proto.
enum RawDescriptors {
    /// Message nesting in a descriptor is bounded so a hostile set cannot exhaust the stack.
    static let maxNesting = 100

    static func parseSet(_ bytes: [UInt8]) throws(DescriptorError) -> [RawFile] {
        var files: [RawFile] = []
        var context = "FileDescriptorSet"
        do throws(WireError) {
            var reader = WireReader(bytes[...])
            while !reader.isAtEnd {
                let (number, wireType) = try reader.readTag()
                if number == 1, wireType == .lengthDelimited {
                    context = "file #\(files.count + 1)"
                    files.append(try parseFile(try reader.readLengthDelimited()))
                } else {
                    try reader.skip(wireType, number: number)
                }
            }
        } catch {
            throw .malformed(context: context, offset: error.offset, reason: error.reason)
        }
        return files
    }

    private static func parseFile(_ bytes: ArraySlice<UInt8>) throws(WireError) -> RawFile {
        var file = RawFile()
        var reader = WireReader(bytes)
        while !reader.isAtEnd {
            let (number, wireType) = try reader.readTag()
            switch (number, wireType) {
            case (1, .lengthDelimited): file.name = try reader.readString()
            case (2, .lengthDelimited): file.package = try reader.readString()
            case (4, .lengthDelimited): file.messages.append(try parseMessage(try reader.readLengthDelimited(), depth: 0))
            case (5, .lengthDelimited): file.enums.append(try parseEnum(try reader.readLengthDelimited()))
            case (6, .lengthDelimited): file.services.append(try parseService(try reader.readLengthDelimited()))
            case (12, .lengthDelimited): file.syntax = try reader.readString()
            default: try reader.skip(wireType, number: number)
            }
        }
        return file
    }

    private static func parseMessage(_ bytes: ArraySlice<UInt8>, depth: Int) throws(WireError) -> RawMessage {
        guard depth < maxNesting else {
            throw WireError(offset: bytes.startIndex, reason: "message types nested deeper than \(maxNesting)")
        }
        var message = RawMessage()
        var reader = WireReader(bytes)
        while !reader.isAtEnd {
            let (number, wireType) = try reader.readTag()
            switch (number, wireType) {
            case (1, .lengthDelimited): message.name = try reader.readString()
            case (2, .lengthDelimited): message.fields.append(try parseField(try reader.readLengthDelimited()))
            case (3, .lengthDelimited):
                message.nestedTypes.append(try parseMessage(try reader.readLengthDelimited(), depth: depth + 1))
            case (4, .lengthDelimited): message.enums.append(try parseEnum(try reader.readLengthDelimited()))
            case (7, .lengthDelimited):
                // MessageOptions.map_entry = 7
                if let mapEntry = try boolField(7, in: try reader.readLengthDelimited()) { message.isMapEntry = mapEntry }
            case (8, .lengthDelimited): message.oneofNames.append(try nameField(try reader.readLengthDelimited()))
            default: try reader.skip(wireType, number: number)
            }
        }
        return message
    }

    private static func parseField(_ bytes: ArraySlice<UInt8>) throws(WireError) -> RawField {
        var field = RawField()
        var reader = WireReader(bytes)
        while !reader.isAtEnd {
            let (number, wireType) = try reader.readTag()
            switch (number, wireType) {
            case (1, .lengthDelimited): field.name = try reader.readString()
            case (3, .varint): field.number = Int32(truncatingIfNeeded: try reader.readVarint())
            case (4, .varint): field.isRepeated = try reader.readVarint() == 3  // LABEL_REPEATED
            case (5, .varint): field.type = Int(truncatingIfNeeded: try reader.readVarint())
            case (6, .lengthDelimited): field.typeName = try reader.readString()
            case (8, .lengthDelimited):
                // FieldOptions.packed = 2
                field.packed = try boolField(2, in: try reader.readLengthDelimited())
            case (9, .varint): field.oneofIndex = Int32(truncatingIfNeeded: try reader.readVarint())
            case (10, .lengthDelimited): field.jsonName = try reader.readString()
            case (17, .varint): field.proto3Optional = try reader.readVarint() != 0
            default: try reader.skip(wireType, number: number)
            }
        }
        return field
    }

    private static func parseEnum(_ bytes: ArraySlice<UInt8>) throws(WireError) -> RawEnum {
        var result = RawEnum()
        var reader = WireReader(bytes)
        while !reader.isAtEnd {
            let (number, wireType) = try reader.readTag()
            switch (number, wireType) {
            case (1, .lengthDelimited): result.name = try reader.readString()
            case (2, .lengthDelimited):
                var valueName = ""
                var valueNumber: Int32 = 0
                var inner = WireReader(try reader.readLengthDelimited())
                while !inner.isAtEnd {
                    let (innerNumber, innerType) = try inner.readTag()
                    switch (innerNumber, innerType) {
                    case (1, .lengthDelimited): valueName = try inner.readString()
                    case (2, .varint): valueNumber = Int32(truncatingIfNeeded: try inner.readVarint())
                    default: try inner.skip(innerType, number: innerNumber)
                    }
                }
                result.values.append((valueName, valueNumber))
            default: try reader.skip(wireType, number: number)
            }
        }
        return result
    }

    private static func parseService(_ bytes: ArraySlice<UInt8>) throws(WireError) -> RawService {
        var service = RawService()
        var reader = WireReader(bytes)
        while !reader.isAtEnd {
            let (number, wireType) = try reader.readTag()
            switch (number, wireType) {
            case (1, .lengthDelimited): service.name = try reader.readString()
            case (2, .lengthDelimited):
                var method = RawMethod()
                var inner = WireReader(try reader.readLengthDelimited())
                while !inner.isAtEnd {
                    let (innerNumber, innerType) = try inner.readTag()
                    switch (innerNumber, innerType) {
                    case (1, .lengthDelimited): method.name = try inner.readString()
                    case (2, .lengthDelimited): method.inputType = try inner.readString()
                    case (3, .lengthDelimited): method.outputType = try inner.readString()
                    case (5, .varint): method.clientStreaming = try inner.readVarint() != 0
                    case (6, .varint): method.serverStreaming = try inner.readVarint() != 0
                    default: try inner.skip(innerType, number: innerNumber)
                    }
                }
                service.methods.append(method)
            default: try reader.skip(wireType, number: number)
            }
        }
        return service
    }

    /// The `name = 1` string of a small descriptor such as OneofDescriptorProto.
    private static func nameField(_ bytes: ArraySlice<UInt8>) throws(WireError) -> String {
        var name = ""
        var reader = WireReader(bytes)
        while !reader.isAtEnd {
            let (number, wireType) = try reader.readTag()
            if number == 1, wireType == .lengthDelimited { name = try reader.readString() } else {
                try reader.skip(wireType, number: number)
            }
        }
        return name
    }

    /// A bool field of an options message, or nil when the options do not set it.
    private static func boolField(_ wanted: Int, in bytes: ArraySlice<UInt8>) throws(WireError) -> Bool? {
        var value: Bool?
        var reader = WireReader(bytes)
        while !reader.isAtEnd {
            let (number, wireType) = try reader.readTag()
            if number == wanted, wireType == .varint { value = try reader.readVarint() != 0 } else {
                try reader.skip(wireType, number: number)
            }
        }
        return value
    }
}
