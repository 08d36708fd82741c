import BFFSpec

/// Protobuf binary to proto3 JSON.
struct BinaryToJSON {
    let pool: DescriptorPool

    /// What has been read for one field so far.
    private enum Slot {
        case empty
        case scalar(JSONValue, isDefault: Bool)
        /// Every occurrence of a singular message field; protobuf merges them, which is what
        /// decoding their concatenation does.
        case message([ArraySlice<UInt8>])
        case list([JSONValue])
        case map([(String, JSONValue)])
    }

    func message(_ bytes: ArraySlice<UInt8>, _ descriptor: MessageDescriptor, _ path: FieldPath, depth: Int) throws(TranscodingError) -> JSONValue {
        guard depth < ProtoJSON.maxDepth else { throw fail(path, "messages nested deeper than \(ProtoJSON.maxDepth)") }
        if let wellKnown = WellKnownType(descriptor.fullName) {
            return try self.wellKnown(wellKnown, bytes, descriptor, path, depth: depth)
        }
        return .object(try members(bytes, descriptor, path, depth: depth))
    }

    private func members(_ bytes: ArraySlice<UInt8>, _ descriptor: MessageDescriptor, _ path: FieldPath, depth: Int) throws(TranscodingError) -> [(String, JSONValue)] {
        var slots = [Slot](repeating: .empty, count: descriptor.fields.count)
        var oneofOwners: [Int: Int] = [:]
        var reader = WireReader(bytes)
        let base = bytes.startIndex
        while !reader.isAtEnd {
            let (number, wireType) = try wire(path, base) { () throws(WireError) in try reader.readTag() }
            guard let index = descriptor.fieldIndexByNumber[number] else {
                try wire(path, base) { () throws(WireError) in try reader.skip(wireType, number: number) }
                continue
            }
            let field = descriptor.fields[index]
            let fieldPath = path.field(field.jsonName)
            if field.type == .group { throw TranscodingError(.unsupported, fieldPath, "group fields are not supported") }
            if let oneof = field.oneofIndex {
                // A later member of a oneof replaces an earlier one.
                if let previous = oneofOwners[oneof], previous != index { slots[previous] = .empty }
                oneofOwners[oneof] = index
            }

            if field.isMap {
                try expect(wireType, .lengthDelimited, field, fieldPath)
                let entryBytes = try wire(fieldPath, base) { () throws(WireError) in try reader.readLengthDelimited() }
                let (key, value) = try mapEntry(entryBytes, field, fieldPath, depth: depth)
                var entries: [(String, JSONValue)] = []
                if case .map(let existing) = slots[index] { entries = existing }
                slots[index] = .empty
                if let position = entries.firstIndex(where: { $0.0 == key }) {
                    entries[position].1 = value
                } else {
                    entries.append((key, value))
                }
                slots[index] = .map(entries)
            } else if field.isRepeated {
                var items: [JSONValue] = []
                if case .list(let existing) = slots[index] { items = existing }
                // Release the slot's reference first so appending does not copy the array.
                slots[index] = .empty
                if wireType == .lengthDelimited, field.type.isPackable {
                    let packed = try wire(fieldPath, base) { () throws(WireError) in try reader.readLengthDelimited() }
                    var inner = WireReader(packed)
                    while !inner.isAtEnd {
                        items.append(try scalar(&inner, field, fieldPath.index(items.count), base: base).json)
                    }
                } else {
                    try expect(wireType, field.type.wireType, field, fieldPath)
                    let itemPath = fieldPath.index(items.count)
                    if field.type == .message {
                        let itemBytes = try wire(itemPath, base) { () throws(WireError) in try reader.readLengthDelimited() }
                        let itemType = try pool.messageType(of: field, at: itemPath, .invalidBinary)
                        items.append(try message(itemBytes, itemType, itemPath, depth: depth + 1))
                    } else {
                        items.append(try scalar(&reader, field, itemPath, base: base).json)
                    }
                }
                slots[index] = .list(items)
            } else if field.type == .message {
                try expect(wireType, .lengthDelimited, field, fieldPath)
                let part = try wire(fieldPath, base) { () throws(WireError) in try reader.readLengthDelimited() }
                var parts: [ArraySlice<UInt8>] = []
                if case .message(let existing) = slots[index] { parts = existing }
                slots[index] = .empty
                parts.append(part)
                slots[index] = .message(parts)
            } else {
                try expect(wireType, field.type.wireType, field, fieldPath)
                let (json, isDefault) = try scalar(&reader, field, fieldPath, base: base)
                slots[index] = .scalar(json, isDefault: isDefault)
            }
        }

        var result: [(String, JSONValue)] = []
        for (index, field) in descriptor.fields.enumerated() {
            switch slots[index] {
            case .empty:
                continue
            case .scalar(let json, let isDefault):
                if isDefault && !field.hasPresence { continue }
                result.append((field.jsonName, json))
            case .message(let parts):
                let fieldPath = path.field(field.jsonName)
                let bytes = parts.count == 1 ? parts[0] : ArraySlice(parts.joined())
                let type = try pool.messageType(of: field, at: fieldPath, .invalidBinary)
                result.append((field.jsonName, try message(bytes, type, fieldPath, depth: depth + 1)))
            case .list(let items):
                if !items.isEmpty { result.append((field.jsonName, .array(items))) }
            case .map(let entries):
                if !entries.isEmpty { result.append((field.jsonName, .object(entries))) }
            }
        }
        return result
    }

    /// One `map<K, V>` entry as its JSON key text and value; a missing key or value is its default.
    private func mapEntry(_ bytes: ArraySlice<UInt8>, _ field: FieldDescriptor, _ path: FieldPath, depth: Int) throws(TranscodingError) -> (String, JSONValue) {
        let entry = try pool.messageType(of: field, at: path, .invalidBinary)
        guard let keyField = entry.field(number: 1), let valueField = entry.field(number: 2) else {
            throw fail(path, "map entry \(entry.fullName) lacks its key or value field")
        }
        var key: JSONValue?
        var value: JSONValue?
        var valueParts: [ArraySlice<UInt8>] = []
        var reader = WireReader(bytes)
        let base = bytes.startIndex
        while !reader.isAtEnd {
            let (number, wireType) = try wire(path, base) { () throws(WireError) in try reader.readTag() }
            switch number {
            case 1:
                try expect(wireType, keyField.type.wireType, keyField, path)
                key = try scalar(&reader, keyField, path, base: base).json
            case 2 where valueField.type == .message:
                try expect(wireType, .lengthDelimited, valueField, path)
                valueParts.append(try wire(path, base) { () throws(WireError) in try reader.readLengthDelimited() })
            case 2:
                try expect(wireType, valueField.type.wireType, valueField, path)
                value = try scalar(&reader, valueField, path, base: base).json
            default:
                try wire(path, base) { () throws(WireError) in try reader.skip(wireType, number: number) }
            }
        }
        let keyText: String
        switch key ?? defaultValue(keyField) {
        case .string(let text): keyText = text
        case .bool(let flag): keyText = flag ? "true" : "false"
        case let other: keyText = other.templateText ?? ""
        }
        let entryPath = path.key(keyText)
        if valueField.type == .message {
            let valueType = try pool.messageType(of: valueField, at: entryPath, .invalidBinary)
            let joined = valueParts.count == 1 ? valueParts[0] : ArraySlice(valueParts.joined())
            return (keyText, try message(joined, valueType, entryPath, depth: depth + 1))
        }
        return (keyText, value ?? defaultValue(valueField))
    }

    /// Reads one non-message value of `field`'s type and reports whether it is the type's default.
    private func scalar(_ reader: inout WireReader, _ field: FieldDescriptor, _ path: FieldPath, base: Int) throws(TranscodingError) -> (json: JSONValue, isDefault: Bool) {
        switch field.type {
        case .string:
            let text = try wire(path, base) { () throws(WireError) in try reader.readString() }
            return (.string(text), text.isEmpty)
        case .bytes:
            let bytes = try wire(path, base) { () throws(WireError) in try reader.readLengthDelimited() }
            return (.string(Base64.encode(bytes)), bytes.isEmpty)
        case .float:
            let raw = try wire(path, base) { () throws(WireError) in try reader.readFixed32() }
            let value = Float(bitPattern: raw)
            // Float's shortest round-trip text, so 0.1f prints as 0.1 rather than 0.10000000149011612.
            return (value.isFinite ? .numberText(value.description) : nonFinite(Double(value)), raw == 0)
        case .double:
            let raw = try wire(path, base) { () throws(WireError) in try reader.readFixed64() }
            let value = Double(bitPattern: raw)
            return (value.isFinite ? .number(value) : nonFinite(value), raw == 0)
        case .fixed32, .sfixed32:
            let raw = try wire(path, base) { () throws(WireError) in try reader.readFixed32() }
            let value = field.type == .fixed32 ? Double(raw) : Double(Int32(bitPattern: raw))
            return (.number(value), raw == 0)
        case .fixed64, .sfixed64:
            let raw = try wire(path, base) { () throws(WireError) in try reader.readFixed64() }
            return (.string(field.type == .fixed64 ? String(raw) : String(Int64(bitPattern: raw))), raw == 0)
        case .int32, .uint32, .sint32, .int64, .uint64, .sint64, .bool, .enum:
            let raw = try wire(path, base) { () throws(WireError) in try reader.readVarint() }
            return try varint(raw, field, path)
        case .message, .group:
            throw fail(path, "field \(field.name) is not a scalar")
        }
    }

    /// Narrows a varint to the field's type; 32-bit kinds keep the low 32 bits, as protobuf parsers do.
    private func varint(_ raw: UInt64, _ field: FieldDescriptor, _ path: FieldPath) throws(TranscodingError) -> (json: JSONValue, isDefault: Bool) {
        switch field.type {
        case .int32:
            let value = Int32(truncatingIfNeeded: raw)
            return (.number(Double(value)), value == 0)
        case .uint32:
            let value = UInt32(truncatingIfNeeded: raw)
            return (.number(Double(value)), value == 0)
        case .sint32:
            let value = ZigZag.decode32(raw)
            return (.number(Double(value)), value == 0)
        case .int64:
            return (.string(String(Int64(bitPattern: raw))), raw == 0)
        case .uint64:
            return (.string(String(raw)), raw == 0)
        case .sint64:
            return (.string(String(ZigZag.decode64(raw))), raw == 0)
        case .bool:
            return (.bool(raw != 0), raw == 0)
        default:
            let number = Int32(truncatingIfNeeded: raw)
            let enumType = try pool.enumType(of: field, at: path, .invalidBinary)
            if enumType.fullName == "google.protobuf.NullValue" { return (.null, number == 0) }
            // Open enums keep numbers they do not declare; JSON then carries the number.
            return (enumType.name(of: number).map(JSONValue.string) ?? .number(Double(number)), number == 0)
        }
    }

    private func nonFinite(_ value: Double) -> JSONValue {
        value.isNaN ? .string("NaN") : .string(value < 0 ? "-Infinity" : "Infinity")
    }

    /// The JSON a field prints as when the wire carries nothing for it (map entries, wrappers).
    private func defaultValue(_ field: FieldDescriptor) -> JSONValue {
        switch field.type {
        case .int64, .uint64, .sint64, .fixed64, .sfixed64: return .string("0")
        case .bool: return .bool(false)
        case .string, .bytes: return .string("")
        case .enum:
            guard let name = field.typeName, let enumType = pool.enumType(name) else { return .number(0) }
            if enumType.fullName == "google.protobuf.NullValue" { return .null }
            return enumType.name(of: 0).map(JSONValue.string) ?? .number(0)
        case .message, .group: return .object([])
        case .double, .float, .int32, .uint32, .sint32, .fixed32, .sfixed32: return .number(0)
        }
    }

    // MARK: Well-known types

    private func wellKnown(
        _ kind: WellKnownType, _ bytes: ArraySlice<UInt8>, _ descriptor: MessageDescriptor, _ path: FieldPath, depth: Int
    ) throws(TranscodingError) -> JSONValue {
        let fields = try members(bytes, descriptor, path, depth: depth)
        let first = fields.first?.1
        switch kind {
        case .timestamp, .duration:
            let seconds = Int64(fields.first(where: { $0.0 == "seconds" })?.1.templateText ?? "0") ?? 0
            let nanos = Int32(exactly: fields.first(where: { $0.0 == "nanos" })?.1.numberValue ?? 0) ?? 0
            let text = kind == .timestamp
                ? TimeFormats.formatTimestamp(seconds: seconds, nanos: nanos)
                : TimeFormats.formatDuration(seconds: seconds, nanos: nanos)
            guard let text else {
                throw fail(path, "seconds \(seconds) and nanos \(nanos) are not a valid \(descriptor.fullName)")
            }
            return .string(text)
        case .wrapper:
            guard let valueField = descriptor.field(number: 1) else { throw fail(path, "\(descriptor.fullName) has no value field") }
            return first ?? defaultValue(valueField)
        case .structure:
            return first ?? .object([])
        case .listValue:
            return first ?? .array([])
        case .value:
            guard let (name, value) = fields.first else { return .null }
            if name == "numberValue", case .string = value {
                throw fail(path, "google.protobuf.Value holds \(value.templateText ?? "a non-finite number"), which JSON cannot represent")
            }
            return value
        case .fieldMask:
            guard case .array(let paths)? = first else { return .string("") }
            var jsonPaths: [String] = []
            for case .string(let protoPath) in paths {
                guard let jsonPath = FieldMaskPath.camelCase(fromProto: protoPath) else {
                    throw fail(path, "field mask path \"\(protoPath)\" has no lowerCamelCase JSON form")
                }
                jsonPaths.append(jsonPath)
            }
            return .string(jsonPaths.joined(separator: ","))
        case .any:
            throw TranscodingError(.unsupported, path, "google.protobuf.Any is not supported")
        }
    }

    // MARK: Errors

    private func expect(_ actual: WireType, _ expected: WireType, _ field: FieldDescriptor, _ path: FieldPath) throws(TranscodingError) {
        guard actual == expected else {
            throw fail(path, "wire type \(actual.rawValue) does not fit field \(field.name) of type \(field.type), which uses wire type \(expected.rawValue)")
        }
    }

    /// Runs a wire read, reporting failures at `path` with the offset relative to the message being read.
    private func wire<T>(_ path: FieldPath, _ base: Int, _ body: () throws(WireError) -> T) throws(TranscodingError) -> T {
        do {
            return try body()
        } catch {
            throw fail(path, "\(error.reason) at byte \(error.offset - base) of the message")
        }
    }

    private func fail(_ path: FieldPath, _ reason: String) -> TranscodingError {
        TranscodingError(.invalidBinary, path, reason)
    }
}
