import BFFProto
import BFFSpec
import Testing

/// Malformed or mismatched binary input is a TranscodingError, never a crash.
@Suite struct DecodeErrorTests {
    private func decodeError(_ bytes: [UInt8], as name: String = "bfftest.v1.User") throws -> TranscodingError? {
        let pool = try testPool()
        let type = try message(name, in: pool)
        return transcodingError { () throws(TranscodingError) in _ = try ProtoJSON.decode(bytes, as: type, pool: pool) }
    }

    @Test(arguments: [
        ([0x18, 0x80], "truncated varint at byte 1 of the message"),
        ([0x18] + [UInt8](repeating: 0xFF, count: 11), "varint longer than 10 bytes at byte 1 of the message"),
        ([0x0A, 0x05, 0x61], "length 5 runs past the end (1 bytes left) at byte 1 of the message"),
        ([0x0A, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F], "length 4294967295 runs past the end (0 bytes left) at byte 1 of the message"),
        ([0x1D, 0, 0, 0, 0], "wire type 5 does not fit field age of type int32, which uses wire type 0"),
        ([0x0A, 0x01, 0xFF], "string is not valid UTF-8 at byte 1 of the message"),
        ([0x0A, 0x02, 0xC3, 0x28], "string is not valid UTF-8 at byte 1 of the message"),
        ([0x00], "field number 0 at byte 0 of the message"),
        ([0x0F], "invalid wire type 7 for field 1 at byte 0 of the message"),
        ([0x71, 1, 2, 3], "truncated fixed64 at byte 1 of the message"),
        ([0x7D, 1, 2], "truncated fixed32 at byte 1 of the message"),
        ([0xBB, 0x3E], "unterminated group for field 999 at byte 2 of the message"),
        ([0xBC, 0x3E], "end-group tag for field 999 without a start-group at byte 2 of the message"),
        ([0xBB, 0x3E, 0xAC, 0x3E], "end-group for field 997 closes group 999 at byte 4 of the message"),
        ([0x92, 0x01, 0x02, 0x0A, 0x05], "length 5 runs past the end (0 bytes left) at byte 1 of the message"),
        ([0x92, 0x01, 0x01, 0x08], "wire type 0 does not fit field street of type string, which uses wire type 2"),
    ] as [([UInt8], String)])
    func rejectsMalformedBinary(_ bytes: [UInt8], _ reason: String) throws {
        let error = try #require(try decodeError(bytes))
        #expect(error.reason == reason)
        #expect(error.kind == .invalidBinary)
    }

    @Test func errorsNameTheFieldPath() throws {
        // address (18) { geo (3) { lat (1) as varint } }
        let error = try #require(try decodeError([0x92, 0x01, 0x04, 0x1A, 0x02, 0x08, 0x01]))
        #expect(error.path == "address.geo.lat")
        // previousAddresses (21), second element, street (1) with invalid UTF-8
        let listError = try #require(try decodeError([0xAA, 0x01, 0x00, 0xAA, 0x01, 0x03, 0x0A, 0x01, 0xFF]))
        #expect(listError.path == "previousAddresses[1].street")
        // counters (23) entry whose value (2) has the wrong wire type
        let mapError = try #require(try decodeError([0xBA, 0x01, 0x02, 0x15, 0x00]))
        #expect(mapError.path == "counters")
        #expect(mapError.reason.contains("wire type 5"))
    }

    @Test func rejectsOutOfRangeWellKnownValues() throws {
        // createdAt (30) with nanos = -1
        let negativeNanos = try #require(try decodeError([0xF2, 0x01, 0x0B, 0x10] + [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]))
        #expect(negativeNanos.description == "createdAt: seconds 0 and nanos -1 are not a valid google.protobuf.Timestamp")
        // createdAt seconds = 2^40, past year 9999
        let farFuture = try #require(try decodeError([0xF2, 0x01, 0x07, 0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20]))
        #expect(farFuture.path == "createdAt")
        // sessionTtl (31) seconds = 1, nanos = -1: signs disagree
        let mixedSigns = try #require(try decodeError([0xFA, 0x01, 0x0D, 0x08, 0x01, 0x10] + [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]))
        #expect(mixedSigns.path == "sessionTtl")
        // extra (43) Value with number_value = NaN
        let nan = try #require(try decodeError([0xDA, 0x02, 0x09, 0x11, 0, 0, 0, 0, 0, 0, 0xF8, 0x7F]))
        #expect(nan.path == "extra")
        // updateMask (36) path with an uppercase letter has no JSON form
        let mask = try #require(try decodeError([0xA2, 0x02, 0x05, 0x0A, 0x03, 0x61, 0x42, 0x63]))
        #expect(mask.description == "updateMask: field mask path \"aBc\" has no lowerCamelCase JSON form")
    }

    @Test func nestingLimitApplies() throws {
        let pool = try testPool()
        let node = try message("bfftest.v1.Node", in: pool)
        func nested(_ levels: Int) -> [UInt8] {
            var bytes: [UInt8] = [0x10, 0x01]
            for _ in 1..<levels { bytes = [0x0A] + varint(bytes.count) + bytes }
            return bytes
        }
        let ok = try ProtoJSON.decode(nested(100), as: node, pool: pool)
        #expect(ok.value(at: Array(repeating: "child", count: 99) + ["value"]) == 1)
        let error = try #require(transcodingError { () throws(TranscodingError) in _ = try ProtoJSON.decode(nested(101), as: node, pool: pool) })
        #expect(error.reason == "messages nested deeper than 100")
        // 10,000 levels would overflow the stack if the limit were missing.
        #expect(throws: TranscodingError.self) { try ProtoJSON.decode(nested(10_000), as: node, pool: pool) }
        // Groups in unknown fields are bounded too.
        // 200 nested start-group tags for unknown field 999.
        let groups: [UInt8] = Array(repeatElement([0xBB, 0x3E] as [UInt8], count: 200).joined())
        #expect(throws: TranscodingError.self) { try ProtoJSON.decode(groups, as: node, pool: pool) }
    }

    private func varint(_ value: Int) -> [UInt8] {
        var v = UInt64(value)
        var out: [UInt8] = []
        while v >= 0x80 {
            out.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
        return out
    }
}

/// Random and mutated input: decode either throws or succeeds; on success the JSON re-encodes
/// and decodes to the same value.
@Suite struct FuzzTests {
    private static let targets = ["bfftest.v1.User", "bfftest.v1.Node", "google.protobuf.Struct", "bfftest.v1.Wrappers"]

    @Test func randomBytes() throws {
        let pool = try testPool()
        var rng = SplitMix64(state: 0x5EED)
        var outcomes = (ok: 0, failed: 0)
        for round in 0..<4000 {
            let type = try message(Self.targets[round % Self.targets.count], in: pool)
            let length = Int.random(in: 0...48, using: &rng)
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
            try check(bytes, type, pool, &outcomes)
        }
        #expect(outcomes.ok > 100 && outcomes.failed > 1000, "\(outcomes)")
    }

    @Test func mutatedGoldenMessages() throws {
        let pool = try testPool()
        var rng = SplitMix64(state: 0xF00D)
        var outcomes = (ok: 0, failed: 0)
        let seeds = goldenCases.filter { $0.binary.count > 2 }
        try #require(!seeds.isEmpty)
        for round in 0..<4000 {
            let seed = seeds[round % seeds.count]
            var bytes = seed.binary
            for _ in 0..<Int.random(in: 1...3, using: &rng) {
                let position = Int.random(in: 0..<bytes.count, using: &rng)
                switch Int.random(in: 0..<4, using: &rng) {
                case 0: bytes[position] = UInt8.random(in: 0...255, using: &rng)
                case 1: bytes.removeSubrange(position...)
                case 2: bytes.insert(UInt8.random(in: 0...255, using: &rng), at: position)
                default: bytes[position] ^= 1 << UInt8.random(in: 0..<8, using: &rng)
                }
                if bytes.isEmpty { bytes = [0x08] }
            }
            try check(bytes, try message(seed.message, in: pool), pool, &outcomes)
        }
        #expect(outcomes.ok > 200 && outcomes.failed > 200, "\(outcomes)")
    }

    private func check(_ bytes: [UInt8], _ type: MessageDescriptor, _ pool: DescriptorPool, _ outcomes: inout (ok: Int, failed: Int)) throws {
        let decoded: JSONValue
        do {
            decoded = try ProtoJSON.decode(bytes, as: type, pool: pool)
        } catch {
            #expect(error.kind != .unsupported)
            outcomes.failed += 1
            return
        }
        outcomes.ok += 1
        let reencoded = try ProtoJSON.encode(decoded, as: type, pool: pool)
        let again = try ProtoJSON.decode(reencoded, as: type, pool: pool)
        #expect(sameJSON(again, decoded), "\(hexString(bytes)) decoded to \(decoded.jsonText), then \(again.jsonText)")
    }
}
