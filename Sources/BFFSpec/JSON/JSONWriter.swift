/// Serialises ``JSONValue``s into UTF-8 bytes, appending to a byte sink.
///
/// Generic over the sink so the runtime can write straight into a `ByteBuffer` without an
/// intermediate array.
public protocol JSONByteSink {
    mutating func writeJSONBytes(_ bytes: some Collection<UInt8>)
    mutating func writeJSONByte(_ byte: UInt8)
}

extension Array: JSONByteSink where Element == UInt8 {
    public mutating func writeJSONBytes(_ bytes: some Collection<UInt8>) { append(contentsOf: bytes) }
    public mutating func writeJSONByte(_ byte: UInt8) { append(byte) }
}

extension JSONValue {
    /// Appends this value's JSON text to `sink`.
    public func write(to sink: inout some JSONByteSink) {
        switch self {
        case .null: sink.writeJSONBytes("null".utf8)
        case .bool(let b): sink.writeJSONBytes((b ? "true" : "false").utf8)
        case .number(let d): sink.writeJSONBytes((d.isFinite ? JSONValue.format(d) : "null").utf8)
        case .numberText(let text): sink.writeJSONBytes(text.utf8)
        case .string(let s): JSONValue.writeString(s, to: &sink)
        case .array(let items):
            sink.writeJSONByte(UInt8(ascii: "["))
            for (i, item) in items.enumerated() {
                if i > 0 { sink.writeJSONByte(UInt8(ascii: ",")) }
                item.write(to: &sink)
            }
            sink.writeJSONByte(UInt8(ascii: "]"))
        case .object(let members):
            sink.writeJSONByte(UInt8(ascii: "{"))
            for (i, (key, value)) in members.enumerated() {
                if i > 0 { sink.writeJSONByte(UInt8(ascii: ",")) }
                JSONValue.writeString(key, to: &sink)
                sink.writeJSONByte(UInt8(ascii: ":"))
                value.write(to: &sink)
            }
            sink.writeJSONByte(UInt8(ascii: "}"))
        }
    }

    /// Appends `s` as a JSON string literal, escaping quotes, backslashes and control characters.
    public static func writeString(_ s: String, to sink: inout some JSONByteSink) {
        sink.writeJSONByte(UInt8(ascii: "\""))
        if s.utf8.allSatisfy({ $0 >= 0x20 && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") }) {
            sink.writeJSONBytes(s.utf8)
            sink.writeJSONByte(UInt8(ascii: "\""))
            return
        }
        for byte in s.utf8 {
            switch byte {
            case UInt8(ascii: "\""): sink.writeJSONBytes("\\\"".utf8)
            case UInt8(ascii: "\\"): sink.writeJSONBytes("\\\\".utf8)
            case 0x0A: sink.writeJSONBytes("\\n".utf8)
            case 0x0D: sink.writeJSONBytes("\\r".utf8)
            case 0x09: sink.writeJSONBytes("\\t".utf8)
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                sink.writeJSONBytes("\\u00".utf8)
                sink.writeJSONByte(hex[Int(byte >> 4)])
                sink.writeJSONByte(hex[Int(byte & 0xF)])
            default: sink.writeJSONByte(byte)
            }
        }
        sink.writeJSONByte(UInt8(ascii: "\""))
    }

    /// This value's JSON text.
    public var jsonText: String {
        var bytes: [UInt8] = []
        write(to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }
}

extension JSONValue {
    /// This value's JSON text over several lines, each level indented by two spaces, for files people read and diff.
    public var indentedJSONText: String {
        var bytes: [UInt8] = []
        writeIndented(to: &bytes, level: 0)
        return String(decoding: bytes, as: UTF8.self)
    }

    private func writeIndented(to sink: inout [UInt8], level: Int) {
        switch self {
        case .array(let items) where !items.isEmpty:
            sink.writeJSONByte(UInt8(ascii: "["))
            for (i, item) in items.enumerated() {
                if i > 0 { sink.writeJSONByte(UInt8(ascii: ",")) }
                Self.newline(in: &sink, level: level + 1)
                item.writeIndented(to: &sink, level: level + 1)
            }
            Self.newline(in: &sink, level: level)
            sink.writeJSONByte(UInt8(ascii: "]"))
        case .object(let members) where !members.isEmpty:
            sink.writeJSONByte(UInt8(ascii: "{"))
            for (i, (key, value)) in members.enumerated() {
                if i > 0 { sink.writeJSONByte(UInt8(ascii: ",")) }
                Self.newline(in: &sink, level: level + 1)
                Self.writeString(key, to: &sink)
                sink.writeJSONBytes(": ".utf8)
                value.writeIndented(to: &sink, level: level + 1)
            }
            Self.newline(in: &sink, level: level)
            sink.writeJSONByte(UInt8(ascii: "}"))
        default:
            write(to: &sink)
        }
    }

    private static func newline(in sink: inout [UInt8], level: Int) {
        sink.writeJSONByte(UInt8(ascii: "\n"))
        sink.writeJSONBytes(repeatElement(UInt8(ascii: " "), count: 2 * level))
    }
}
