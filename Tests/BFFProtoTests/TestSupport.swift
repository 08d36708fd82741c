import Foundation
import BFFProto
import BFFSpec
import Testing

/// Loads one of the files the test bundle copies from Resources/.
func resource(_ name: String, _ ext: String) throws -> [UInt8] {
    let url = try #require(Bundle.module.url(forResource: name, withExtension: ext))
    return [UInt8](try Data(contentsOf: url))
}

/// The pool built from Resources/test.pb (compiled by protoc from test.proto).
func testPool() throws -> DescriptorPool {
    try DescriptorPool(descriptorSet: try resource("test", "pb"))
}

func message(_ name: String, in pool: DescriptorPool) throws -> MessageDescriptor {
    try #require(pool.message(name), "message \(name) missing from test.pb")
}

func hexBytes(_ hex: String) -> [UInt8]? {
    let digits = Array(hex.utf8)
    guard digits.count % 2 == 0 else { return nil }
    var out: [UInt8] = []
    for i in stride(from: 0, to: digits.count, by: 2) {
        guard let byte = UInt8(String(decoding: digits[i..<i + 2], as: UTF8.self), radix: 16) else { return nil }
        out.append(byte)
    }
    return out
}

func hexString(_ bytes: [UInt8]) -> String {
    bytes.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
}

/// One vector from golden.json, produced by Python protobuf (see Resources/make_golden.py).
struct GoldenCase: Sendable, CustomTestStringConvertible {
    let name: String
    let message: String
    /// The JSON given to Python's json_format.Parse; nil for binary-only cases.
    let json: JSONValue?
    let binary: [UInt8]
    /// What Python's json_format.MessageToJson prints for `binary`.
    let canonical: JSONValue
    /// Multi-entry maps: upb writes and prints them in hash order, so neither bytes nor key order compare.
    let unorderedMaps: Bool

    var testDescription: String { name }
}

/// The golden cases; an unreadable file yields none, which `goldenFileLoads` reports.
let goldenCases: [GoldenCase] = {
    guard let bytes = try? resource("golden", "json"), case .array(let items)? = try? JSONParser.parse(bytes) else { return [] }
    return items.compactMap { item -> GoldenCase? in
        guard case .string(let name)? = item["name"], case .string(let message)? = item["message"],
            case .string(let hex)? = item["binary_hex"], let binary = hexBytes(hex), let canonical = item["canonical"],
            case .bool(let unordered)? = item["unordered_maps"]
        else { return nil }
        return GoldenCase(name: name, message: message, json: item["json"], binary: binary, canonical: canonical, unorderedMaps: unordered)
    }
}()

/// Compares JSON values structurally.
///
/// Numbers compare by value. Python prints float (32-bit) fields with its own shortest-digits
/// search, which can pick different digits than Swift's for the same float (1.4013e-45 vs
/// 1e-45); two numbers of at most 9 significant digits that round to the same Float are
/// therefore equal. Doubles print with up to 17 digits and still compare exactly.
/// With `unorderedObjects`, object members compare as sets (for multi-entry maps).
func sameJSON(_ a: JSONValue, _ b: JSONValue, unorderedObjects: Bool = false) -> Bool {
    switch (a, b) {
    case (.array(let x), .array(let y)):
        return x.count == y.count && zip(x, y).allSatisfy { sameJSON($0, $1, unorderedObjects: unorderedObjects) }
    case (.object(let x), .object(let y)):
        guard x.count == y.count else { return false }
        if unorderedObjects {
            return x.allSatisfy { member in
                y.contains { $0.0 == member.0 && sameJSON($0.1, member.1, unorderedObjects: true) }
            }
        }
        return zip(x, y).allSatisfy { $0.0 == $1.0 && sameJSON($0.1, $1.1, unorderedObjects: false) }
    default:
        if let x = a.numberValue, let y = b.numberValue {
            if x == y { return true }
            guard let textA = a.templateText, let textB = b.templateText,
                significantDigits(textA) <= 9, significantDigits(textB) <= 9
            else { return false }
            return Float(x) == Float(y)
        }
        return a == b
    }
}

private func significantDigits(_ text: String) -> Int {
    let mantissa = text.split(whereSeparator: { $0 == "e" || $0 == "E" }).first ?? ""
    let digits = mantissa.filter(\.isNumber).drop(while: { $0 == "0" })
    return digits.reversed().drop(while: { $0 == "0" }).count
}

/// Writes protobuf wire format for hand-built descriptor sets, independent of the library's writer.
struct ProtoWriter {
    var bytes: [UInt8] = []

    mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    mutating func string(_ field: UInt64, _ text: String) { message(field, Array(text.utf8)) }

    mutating func message(_ field: UInt64, _ payload: [UInt8]) {
        varint(field << 3 | 2)
        varint(UInt64(payload.count))
        bytes.append(contentsOf: payload)
    }

    mutating func int(_ field: UInt64, _ value: UInt64) {
        varint(field << 3)
        varint(value)
    }

    static func build(_ body: (inout ProtoWriter) -> Void) -> [UInt8] {
        var writer = ProtoWriter()
        body(&writer)
        return writer.bytes
    }
}

/// A deterministic generator so fuzz failures reproduce.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Expects `body` to throw a TranscodingError and returns it.
func transcodingError(_ body: () throws(TranscodingError) -> Void, sourceLocation: Testing.SourceLocation = #_sourceLocation) -> TranscodingError? {
    do {
        try body()
        Issue.record("expected a TranscodingError", sourceLocation: sourceLocation)
        return nil
    } catch {
        return error
    }
}
