/// Protobuf wire types, as carried in the low three bits of a tag.
enum WireType: UInt8, Sendable {
    case varint = 0
    case fixed64 = 1
    case lengthDelimited = 2
    case startGroup = 3
    case endGroup = 4
    case fixed32 = 5
}

/// Why bytes are not valid protobuf wire format, with the absolute offset where reading stopped.
struct WireError: Error, Sendable {
    let offset: Int
    let reason: String
}

/// Reads protobuf wire format from a slice, throwing instead of trapping on any malformed input.
///
/// Offsets are indices into the slice's base array, so nested readers report positions
/// relative to the same buffer as their parent.
struct WireReader {
    /// Groups are skipped recursively; the limit keeps hostile input from exhausting the stack.
    static let maxGroupDepth = 100

    let bytes: ArraySlice<UInt8>
    private(set) var index: Int

    init(_ bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        self.index = bytes.startIndex
    }

    var isAtEnd: Bool { index >= bytes.endIndex }

    mutating func readVarint() throws(WireError) -> UInt64 {
        let start = index
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while index < bytes.endIndex {
            let byte = bytes[index]
            index += 1
            // Bits beyond 64 in a tenth byte are dropped, as protobuf's own parsers do.
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
            if shift >= 70 { throw WireError(offset: start, reason: "varint longer than 10 bytes") }
        }
        throw WireError(offset: start, reason: "truncated varint")
    }

    mutating func readTag() throws(WireError) -> (number: Int, wireType: WireType) {
        let start = index
        let tag = try readVarint()
        guard tag <= UInt64(UInt32.max) else { throw WireError(offset: start, reason: "tag \(tag) does not fit in 32 bits") }
        let number = Int(tag >> 3)
        guard number > 0 else { throw WireError(offset: start, reason: "field number 0") }
        guard let wireType = WireType(rawValue: UInt8(tag & 7)) else {
            throw WireError(offset: start, reason: "invalid wire type \(tag & 7) for field \(number)")
        }
        return (number, wireType)
    }

    mutating func readFixed32() throws(WireError) -> UInt32 {
        guard bytes.endIndex - index >= 4 else { throw WireError(offset: index, reason: "truncated fixed32") }
        var value: UInt32 = 0
        for k in 0..<4 { value |= UInt32(bytes[index + k]) << (8 * k) }
        index += 4
        return value
    }

    mutating func readFixed64() throws(WireError) -> UInt64 {
        guard bytes.endIndex - index >= 8 else { throw WireError(offset: index, reason: "truncated fixed64") }
        var value: UInt64 = 0
        for k in 0..<8 { value |= UInt64(bytes[index + k]) << (8 * k) }
        index += 8
        return value
    }

    mutating func readLengthDelimited() throws(WireError) -> ArraySlice<UInt8> {
        let start = index
        let length = try readVarint()
        guard length <= UInt64(bytes.endIndex - index) else {
            throw WireError(offset: start, reason: "length \(length) runs past the end (\(bytes.endIndex - index) bytes left)")
        }
        let end = index + Int(length)
        defer { index = end }
        return bytes[index..<end]
    }

    /// Reads a UTF-8 string; invalid UTF-8 is an error rather than being replaced.
    mutating func readString() throws(WireError) -> String {
        let start = index
        let slice = try readLengthDelimited()
        guard let text = String(validating: slice, as: UTF8.self) else {
            throw WireError(offset: start, reason: "string is not valid UTF-8")
        }
        return text
    }

    /// Skips the value of a field this reader's caller does not know, including whole groups.
    mutating func skip(_ wireType: WireType, number: Int, depth: Int = 0) throws(WireError) {
        switch wireType {
        case .varint: _ = try readVarint()
        case .fixed64: _ = try readFixed64()
        case .fixed32: _ = try readFixed32()
        case .lengthDelimited: _ = try readLengthDelimited()
        case .endGroup: throw WireError(offset: index, reason: "end-group tag for field \(number) without a start-group")
        case .startGroup:
            guard depth < Self.maxGroupDepth else { throw WireError(offset: index, reason: "groups nested deeper than \(Self.maxGroupDepth)") }
            while true {
                guard !isAtEnd else { throw WireError(offset: index, reason: "unterminated group for field \(number)") }
                let (inner, innerType) = try readTag()
                if innerType == .endGroup {
                    guard inner == number else {
                        throw WireError(offset: index, reason: "end-group for field \(inner) closes group \(number)")
                    }
                    return
                }
                try skip(innerType, number: inner, depth: depth + 1)
            }
        }
    }
}

/// Appends protobuf wire format to a byte array.
extension Array where Element == UInt8 {
    mutating func appendVarint(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        append(UInt8(value))
    }

    mutating func appendTag(_ number: Int, _ wireType: WireType) {
        appendVarint(UInt64(number) << 3 | UInt64(wireType.rawValue))
    }

    mutating func appendFixed32(_ value: UInt32) {
        for k in 0..<4 { append(UInt8(truncatingIfNeeded: value >> (8 * k))) }
    }

    mutating func appendFixed64(_ value: UInt64) {
        for k in 0..<8 { append(UInt8(truncatingIfNeeded: value >> (8 * k))) }
    }

    mutating func appendLengthDelimited(_ number: Int, _ payload: [UInt8]) {
        appendTag(number, .lengthDelimited)
        appendVarint(UInt64(payload.count))
        append(contentsOf: payload)
    }
}

/// ZigZag maps signed integers to unsigned so small magnitudes of either sign stay short varints.
enum ZigZag {
    static func encode32(_ value: Int32) -> UInt64 { UInt64(UInt32(bitPattern: (value << 1) ^ (value >> 31))) }
    static func encode64(_ value: Int64) -> UInt64 { UInt64(bitPattern: (value << 1) ^ (value >> 63)) }
    static func decode32(_ raw: UInt64) -> Int32 {
        let value = UInt32(truncatingIfNeeded: raw)
        return Int32(bitPattern: (value >> 1) ^ (0 &- (value & 1)))
    }
    static func decode64(_ raw: UInt64) -> Int64 { Int64(bitPattern: (raw >> 1) ^ (0 &- (raw & 1))) }
}
