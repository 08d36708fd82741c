import BFFSpec

/// One encoded scalar, before its tag is known to be needed.
private enum ScalarValue {
    case varint(UInt64)
    case fixed32(UInt32)
    case fixed64(UInt64)
    case bytes([UInt8])

    /// proto3 compares raw bits, so -0.0 is not a default value and is written.
    var isDefault: Bool {
        switch self {
        case .varint(let v), .fixed64(let v): return v == 0
        case .fixed32(let v): return v == 0
        case .bytes(let b): return b.isEmpty
        }
    }

    func append(to out: inout [UInt8]) {
        switch self {
        case .varint(let v): out.appendVarint(v)
        case .fixed32(let v): out.appendFixed32(v)
        case .fixed64(let v): out.appendFixed64(v)
        case .bytes(let b):
            out.appendVarint(UInt64(b.count))
            out.append(contentsOf: b)
        }
    }
}

/// Proto3 JSON to protobuf binary.
struct JSONToBinary {
    let pool: DescriptorPool

    func message(_ json: JSONValue, _ descriptor: MessageDescriptor, _ path: FieldPath, depth: Int) throws(TranscodingError) -> [UInt8] {
        guard depth < ProtoJSON.maxDepth else { throw fail(path, "messages nested deeper than \(ProtoJSON.maxDepth)") }
        if let wellKnown = WellKnownType(descriptor.fullName) {
            return try self.wellKnown(wellKnown, json, descriptor, path, depth: depth)
        }
        guard case .object(let members) = json else { throw mismatch(path, "an object", json) }
        var present: [(field: FieldDescriptor, value: JSONValue, path: FieldPath)] = []
        var seen: Set<Int> = []
        var oneofMembers: [Int: String] = [:]
        for (key, value) in members {
            let memberPath = path.field(key)
            guard let field = descriptor.field(jsonKey: key) else {
                throw fail(memberPath, "\(descriptor.fullName) has no field named \"\(key)\"")
            }
            guard seen.insert(field.number).inserted else {
                throw fail(memberPath, "field \(field.name) is given more than once")
            }
            if case .null = value, field.isRepeated || !field.elementAcceptsNull { continue }
            if let oneof = field.oneofIndex, !field.isProto3Optional {
                if let other = oneofMembers[oneof] {
                    let name = descriptor.oneofNames.indices.contains(oneof) ? descriptor.oneofNames[oneof] : "#\(oneof)"
                    throw fail(memberPath, "\"\(other)\" is already set; both belong to oneof \(name)")
                }
                oneofMembers[oneof] = key
            }
            present.append((field, value, memberPath))
        }
        present.sort { $0.field.number < $1.field.number }
        var out: [UInt8] = []
        for member in present {
            try encodeField(member.value, member.field, member.path, into: &out, depth: depth)
        }
        return out
    }

    private func encodeField(_ value: JSONValue, _ field: FieldDescriptor, _ path: FieldPath, into out: inout [UInt8], depth: Int) throws(TranscodingError) {
        if field.isMap {
            guard case .object(let entries) = value else { throw mismatch(path, "an object", value) }
            let entry = try pool.messageType(of: field, at: path, .invalidJSON)
            guard let keyField = entry.field(number: 1), let valueField = entry.field(number: 2) else {
                throw fail(path, "map entry \(entry.fullName) lacks its key or value field")
            }
            for (key, item) in entries {
                let entryPath = path.key(key)
                if case .null = item, !valueField.elementAcceptsNull { throw fail(entryPath, "map values cannot be null") }
                var bytes: [UInt8] = []
                // Map entries always carry both key and value, as protobuf's serializers write them.
                try encodeSingular(try mapKey(key, keyField, entryPath), keyField, entryPath, into: &bytes, depth: depth, alwaysWrite: true)
                try encodeSingular(item, valueField, entryPath, into: &bytes, depth: depth, alwaysWrite: true)
                out.appendLengthDelimited(field.number, bytes)
            }
        } else if field.isRepeated {
            guard case .array(let items) = value else { throw mismatch(path, "an array", value) }
            for (index, item) in items.enumerated() {
                if case .null = item, !field.elementAcceptsNull {
                    throw fail(path.index(index), "null is not allowed as an element of a repeated field")
                }
            }
            if field.isPacked {
                guard !items.isEmpty else { return }
                var payload: [UInt8] = []
                for (index, item) in items.enumerated() { try scalar(item, field, path.index(index)).append(to: &payload) }
                out.appendLengthDelimited(field.number, payload)
            } else {
                for (index, item) in items.enumerated() {
                    try encodeSingular(item, field, path.index(index), into: &out, depth: depth, alwaysWrite: true)
                }
            }
        } else {
            try encodeSingular(value, field, path, into: &out, depth: depth, alwaysWrite: field.hasPresence)
        }
    }

    private func encodeSingular(
        _ value: JSONValue, _ field: FieldDescriptor, _ path: FieldPath, into out: inout [UInt8], depth: Int, alwaysWrite: Bool
    ) throws(TranscodingError) {
        switch field.type {
        case .message:
            let descriptor = try pool.messageType(of: field, at: path, .invalidJSON)
            out.appendLengthDelimited(field.number, try message(value, descriptor, path, depth: depth + 1))
        case .group:
            throw TranscodingError(.unsupported, path, "group fields are not supported")
        default:
            let encoded = try scalar(value, field, path)
            if !alwaysWrite && encoded.isDefault { return }
            out.appendTag(field.number, field.type.wireType)
            encoded.append(to: &out)
        }
    }

    /// Map keys are always JSON strings; this turns one into a value of the key field's type.
    private func mapKey(_ key: String, _ keyField: FieldDescriptor, _ path: FieldPath) throws(TranscodingError) -> JSONValue {
        guard keyField.type == .bool else { return .string(key) }
        switch key {
        case "true": return .bool(true)
        case "false": return .bool(false)
        default: throw fail(path, "map key must be \"true\" or \"false\"")
        }
    }

    private func scalar(_ value: JSONValue, _ field: FieldDescriptor, _ path: FieldPath) throws(TranscodingError) -> ScalarValue {
        switch field.type {
        case .int32: return .varint(UInt64(bitPattern: try signed(value, path, bits: 32, type: "int32")))
        case .sint32: return .varint(ZigZag.encode32(Int32(truncatingIfNeeded: try signed(value, path, bits: 32, type: "sint32"))))
        case .sfixed32: return .fixed32(UInt32(truncatingIfNeeded: try signed(value, path, bits: 32, type: "sfixed32")))
        case .uint32: return .varint(try unsigned(value, path, max: UInt64(UInt32.max), type: "uint32"))
        case .fixed32: return .fixed32(UInt32(truncatingIfNeeded: try unsigned(value, path, max: UInt64(UInt32.max), type: "fixed32")))
        case .int64: return .varint(UInt64(bitPattern: try signed(value, path, bits: 64, type: "int64")))
        case .sint64: return .varint(ZigZag.encode64(try signed(value, path, bits: 64, type: "sint64")))
        case .sfixed64: return .fixed64(UInt64(bitPattern: try signed(value, path, bits: 64, type: "sfixed64")))
        case .uint64: return .varint(try unsigned(value, path, max: UInt64.max, type: "uint64"))
        case .fixed64: return .fixed64(try unsigned(value, path, max: UInt64.max, type: "fixed64"))
        case .double: return .fixed64(try floatingPoint(value, path, isFloat: false).bitPattern)
        case .float: return .fixed32(Float(try floatingPoint(value, path, isFloat: true)).bitPattern)
        case .bool:
            guard case .bool(let flag) = value else { throw mismatch(path, "a boolean", value) }
            return .varint(flag ? 1 : 0)
        case .string:
            guard case .string(let text) = value else { throw mismatch(path, "a string", value) }
            return .bytes(Array(text.utf8))
        case .bytes:
            guard case .string(let text) = value else { throw mismatch(path, "a base64 string", value) }
            guard let bytes = Base64.decode(text) else { throw fail(path, "\"\(text)\" is not valid base64") }
            return .bytes(bytes)
        case .enum:
            let enumType = try pool.enumType(of: field, at: path, .invalidJSON)
            switch value {
            case .null where enumType.fullName == "google.protobuf.NullValue":
                return .varint(0)
            case .string(let name):
                guard let number = enumType.number(named: name) else {
                    throw fail(path, "\"\(name)\" is not a value of enum \(enumType.fullName)")
                }
                return .varint(UInt64(bitPattern: Int64(number)))
            case .number, .numberText:
                return .varint(UInt64(bitPattern: try signed(value, path, bits: 32, type: "enum")))
            default:
                throw mismatch(path, "an enum name or number", value)
            }
        case .message, .group:
            throw fail(path, "field \(field.name) is not a scalar")
        }
    }

    // MARK: Numbers

    private func signed(_ value: JSONValue, _ path: FieldPath, bits: Int, type: String) throws(TranscodingError) -> Int64 {
        let (negative, magnitude) = try integer(value, path, type: type)
        let limit: UInt64 = 1 << UInt64(bits - 1)
        guard negative ? magnitude <= limit : magnitude < limit else { throw outOfRange(value, type, path) }
        // Two's complement of the magnitude, which is exact for the full negative range.
        return negative ? Int64(bitPattern: 0 &- magnitude) : Int64(magnitude)
    }

    private func unsigned(_ value: JSONValue, _ path: FieldPath, max: UInt64, type: String) throws(TranscodingError) -> UInt64 {
        let (negative, magnitude) = try integer(value, path, type: type)
        guard !(negative && magnitude != 0), magnitude <= max else { throw outOfRange(value, type, path) }
        return magnitude
    }

    /// An exact integer from a JSON number or numeric string, without passing through `Double`
    /// when the text is available, so 64-bit values keep every digit.
    private func integer(_ value: JSONValue, _ path: FieldPath, type: String) throws(TranscodingError) -> (negative: Bool, magnitude: UInt64) {
        let text: String
        switch value {
        case .numberText(let t): text = t
        case .string(let t): text = t
        case .number(let d):
            guard d.isFinite, d.rounded(.towardZero) == d else { throw fail(path, "\(value.templateText ?? "value") is not an integer") }
            guard d.magnitude < 18_446_744_073_709_551_616.0 else { throw outOfRange(value, type, path) }
            return (d < 0, UInt64(d.magnitude))
        default:
            throw mismatch(path, "an integer", value)
        }
        guard let number = NumberText(text) else { throw fail(path, "\"\(text)\" is not a number") }
        switch number.integerMagnitude() {
        case .integer(let magnitude): return (number.negative, magnitude)
        case .fractional: throw fail(path, "\(text) is not an integer")
        case .tooLarge: throw outOfRange(value, type, path)
        }
    }

    private func floatingPoint(_ value: JSONValue, _ path: FieldPath, isFloat: Bool) throws(TranscodingError) -> Double {
        let result: Double
        switch value {
        case .number(let d):
            result = d
        case .numberText(let text), .string(let text):
            switch text {
            case "NaN": return .nan
            case "Infinity": return .infinity
            case "-Infinity": return -.infinity
            default:
                guard NumberText(text) != nil, let d = Double(text) else { throw fail(path, "\"\(text)\" is not a number") }
                guard d.isFinite else { throw fail(path, "\(text) is out of range for double") }
                result = d
            }
        default:
            throw mismatch(path, "a number", value)
        }
        // Anything that rounds to a finite float is in range, including the shortest text of Float.greatestFiniteMagnitude.
        if isFloat, result.isFinite, Float(result).isInfinite {
            throw fail(path, "\(value.templateText ?? "value") is out of range for float")
        }
        return result
    }

    // MARK: Well-known types

    private func wellKnown(
        _ kind: WellKnownType, _ json: JSONValue, _ descriptor: MessageDescriptor, _ path: FieldPath, depth: Int
    ) throws(TranscodingError) -> [UInt8] {
        switch kind {
        case .timestamp:
            guard case .string(let text) = json else { throw mismatch(path, "an RFC 3339 timestamp string", json) }
            switch TimeFormats.parseTimestamp(text) {
            case .success(let time): return secondsAndNanos(time.seconds, time.nanos)
            case .failure(let error): throw fail(path, "\"\(text)\": \(error.reason)")
            }
        case .duration:
            guard case .string(let text) = json else { throw mismatch(path, "a duration string", json) }
            switch TimeFormats.parseDuration(text) {
            case .success(let time): return secondsAndNanos(time.seconds, time.nanos)
            case .failure(let error): throw fail(path, "\"\(text)\": \(error.reason)")
            }
        case .wrapper:
            guard let valueField = descriptor.field(number: 1) else { throw fail(path, "\(descriptor.fullName) has no value field") }
            var out: [UInt8] = []
            try encodeSingular(json, valueField, path, into: &out, depth: depth, alwaysWrite: false)
            return out
        case .fieldMask:
            guard case .string(let text) = json else { throw mismatch(path, "a comma-separated field mask string", json) }
            var out: [UInt8] = []
            for jsonPath in text.split(separator: ",") {
                guard let protoPath = FieldMaskPath.snakeCase(fromJSON: String(jsonPath)) else {
                    throw fail(path, "field mask path \"\(jsonPath)\" must be lowerCamelCase without underscores")
                }
                out.appendLengthDelimited(1, Array(protoPath.utf8))
            }
            return out
        case .structure:
            guard case .object(let members) = json else { throw mismatch(path, "an object", json) }
            return try structFields(members, path, depth: depth)
        case .listValue:
            guard case .array(let items) = json else { throw mismatch(path, "an array", json) }
            return try listValues(items, path, depth: depth)
        case .value:
            return try value(json, path, depth: depth)
        case .any:
            throw TranscodingError(.unsupported, path, "google.protobuf.Any is not supported")
        }
    }

    private func secondsAndNanos(_ seconds: Int64, _ nanos: Int32) -> [UInt8] {
        var out: [UInt8] = []
        if seconds != 0 {
            out.appendTag(1, .varint)
            out.appendVarint(UInt64(bitPattern: seconds))
        }
        if nanos != 0 {
            out.appendTag(2, .varint)
            out.appendVarint(UInt64(bitPattern: Int64(nanos)))
        }
        return out
    }

    /// The body of a google.protobuf.Struct: `map<string, Value> fields = 1`.
    private func structFields(_ members: [(String, JSONValue)], _ path: FieldPath, depth: Int) throws(TranscodingError) -> [UInt8] {
        guard depth < ProtoJSON.maxDepth else { throw fail(path, "messages nested deeper than \(ProtoJSON.maxDepth)") }
        var out: [UInt8] = []
        for (key, item) in members {
            var entry: [UInt8] = []
            entry.appendLengthDelimited(1, Array(key.utf8))
            entry.appendLengthDelimited(2, try value(item, path.field(key), depth: depth + 1))
            out.appendLengthDelimited(1, entry)
        }
        return out
    }

    /// The body of a google.protobuf.ListValue: `repeated Value values = 1`.
    private func listValues(_ items: [JSONValue], _ path: FieldPath, depth: Int) throws(TranscodingError) -> [UInt8] {
        guard depth < ProtoJSON.maxDepth else { throw fail(path, "messages nested deeper than \(ProtoJSON.maxDepth)") }
        var out: [UInt8] = []
        for (index, item) in items.enumerated() {
            out.appendLengthDelimited(1, try value(item, path.index(index), depth: depth + 1))
        }
        return out
    }

    /// The body of a google.protobuf.Value, whose `kind` oneof mirrors the JSON type.
    private func value(_ json: JSONValue, _ path: FieldPath, depth: Int) throws(TranscodingError) -> [UInt8] {
        guard depth < ProtoJSON.maxDepth else { throw fail(path, "messages nested deeper than \(ProtoJSON.maxDepth)") }
        var out: [UInt8] = []
        switch json {
        case .null:
            out.appendTag(1, .varint)
            out.appendVarint(0)
        case .number, .numberText:
            let number = try floatingPoint(json, path, isFloat: false)
            guard number.isFinite else { throw fail(path, "google.protobuf.Value cannot hold NaN or Infinity") }
            out.appendTag(2, .fixed64)
            out.appendFixed64(number.bitPattern)
        case .string(let text):
            out.appendLengthDelimited(3, Array(text.utf8))
        case .bool(let flag):
            out.appendTag(4, .varint)
            out.appendVarint(flag ? 1 : 0)
        case .object(let members):
            out.appendLengthDelimited(5, try structFields(members, path, depth: depth + 1))
        case .array(let items):
            out.appendLengthDelimited(6, try listValues(items, path, depth: depth + 1))
        }
        return out
    }

    // MARK: Errors

    private func fail(_ path: FieldPath, _ reason: String) -> TranscodingError {
        TranscodingError(.invalidJSON, path, reason)
    }

    private func mismatch(_ path: FieldPath, _ expected: String, _ actual: JSONValue) -> TranscodingError {
        TranscodingError(.invalidJSON, path, "expected \(expected), got \(actual.kindDescription)")
    }

    private func outOfRange(_ value: JSONValue, _ type: String, _ path: FieldPath) -> TranscodingError {
        TranscodingError(.invalidJSON, path, "\(value.templateText ?? "value") is out of range for \(type)")
    }
}

/// A JSON number's text split into sign, digits and exponent, so integers can be read exactly.
struct NumberText {
    enum IntegerResult {
        case integer(UInt64)
        case fractional
        case tooLarge
    }

    let negative: Bool
    /// Integer and fraction digits together, as ASCII.
    let digits: [UInt8]
    /// The power of ten that `digits` is scaled by.
    let exponent: Int

    /// Parses RFC 8259 number syntax; nil for anything else (hex, "inf", spaces, a leading "+").
    init?(_ text: String) {
        let bytes = Array(text.utf8)
        var index = 0
        func isDigit(_ i: Int) -> Bool { i < bytes.count && bytes[i] >= UInt8(ascii: "0") && bytes[i] <= UInt8(ascii: "9") }
        negative = index < bytes.count && bytes[index] == UInt8(ascii: "-")
        if negative { index += 1 }
        var digits: [UInt8] = []
        guard isDigit(index) else { return nil }
        while isDigit(index) { digits.append(bytes[index]); index += 1 }
        var fractionCount = 0
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            guard isDigit(index) else { return nil }
            while isDigit(index) { digits.append(bytes[index]); index += 1; fractionCount += 1 }
        }
        var exponent = 0
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            var exponentNegative = false
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
                exponentNegative = bytes[index] == UInt8(ascii: "-")
                index += 1
            }
            guard isDigit(index) else { return nil }
            while isDigit(index) {
                // Saturate: any exponent this large already decides the outcome.
                exponent = min(exponent * 10 + Int(bytes[index] - UInt8(ascii: "0")), 1_000_000)
                index += 1
            }
            if exponentNegative { exponent = -exponent }
        }
        guard index == bytes.count else { return nil }
        self.digits = Array(digits.drop(while: { $0 == UInt8(ascii: "0") }))
        self.exponent = exponent - fractionCount
    }

    func integerMagnitude() -> IntegerResult {
        guard !digits.isEmpty else { return .integer(0) }
        var digits = self.digits
        if exponent < 0 {
            let dropped = -exponent
            guard dropped < digits.count, digits.suffix(dropped).allSatisfy({ $0 == UInt8(ascii: "0") }) else {
                return .fractional
            }
            digits.removeLast(dropped)
        } else if exponent > 0 {
            guard digits.count + exponent <= 20 else { return .tooLarge }
            digits.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: exponent))
        }
        guard let magnitude = UInt64(String(decoding: digits, as: UTF8.self)) else { return .tooLarge }
        return .integer(magnitude)
    }
}
