import BFFProto
import BFFSpec
import Testing

/// Vectors from Python protobuf (upb), an implementation independent of this one.
@Suite struct GoldenTests {
    @Test func goldenFileLoads() {
        #expect(goldenCases.count >= 100)
        #expect(goldenCases.contains { $0.json == nil }, "binary-only cases present")
    }

    /// JSON -> binary matches Python byte for byte (field order is by number in both).
    @Test(arguments: goldenCases.filter { $0.json != nil })
    func encodeMatchesPython(_ golden: GoldenCase) throws {
        let pool = try testPool()
        let type = try message(golden.message, in: pool)
        let json = try #require(golden.json)
        let encoded = try ProtoJSON.encode(json, as: type, pool: pool)
        if golden.unorderedMaps {
            // upb writes map entries in hash order, so compare what the bytes mean instead.
            let decoded = try ProtoJSON.decode(encoded, as: type, pool: pool)
            #expect(sameJSON(decoded, golden.canonical, unorderedObjects: true), "\(decoded.jsonText)")
        } else {
            #expect(hexString(encoded) == hexString(golden.binary))
        }
    }

    /// Binary -> JSON matches what Python's MessageToJson prints.
    @Test(arguments: goldenCases)
    func decodeMatchesPython(_ golden: GoldenCase) throws {
        let pool = try testPool()
        let type = try message(golden.message, in: pool)
        let decoded = try ProtoJSON.decode(golden.binary, as: type, pool: pool)
        #expect(
            sameJSON(decoded, golden.canonical, unorderedObjects: golden.unorderedMaps),
            "got \(decoded.jsonText), Python printed \(golden.canonical.jsonText)")
    }

    /// Python's canonical JSON, fed back in, produces Python's bytes: the encoder accepts every
    /// form the decoder side of the mapping prints.
    @Test(arguments: goldenCases.filter { $0.json != nil && !$0.unorderedMaps })
    func canonicalJSONEncodesToSameBytes(_ golden: GoldenCase) throws {
        let pool = try testPool()
        let type = try message(golden.message, in: pool)
        let encoded = try ProtoJSON.encode(golden.canonical, as: type, pool: pool)
        #expect(hexString(encoded) == hexString(golden.binary))
    }

    /// decode -> encode -> decode is stable, and for canonical bytes encode(decode(b)) == b.
    @Test(arguments: goldenCases)
    func roundTrips(_ golden: GoldenCase) throws {
        let pool = try testPool()
        let type = try message(golden.message, in: pool)
        let decoded = try ProtoJSON.decode(golden.binary, as: type, pool: pool)
        let reencoded = try ProtoJSON.encode(decoded, as: type, pool: pool)
        let redecoded = try ProtoJSON.decode(reencoded, as: type, pool: pool)
        #expect(sameJSON(redecoded, decoded, unorderedObjects: golden.unorderedMaps))
        if golden.json != nil, !golden.unorderedMaps {
            #expect(hexString(reencoded) == hexString(golden.binary))
        }
        // The decoded JSON also survives being written as text and parsed again.
        let reparsed = try JSONParser.parse(decoded.jsonText)
        #expect(sameJSON(reparsed, decoded))
    }
}

/// The comparator the golden tests rely on must be able to fail.
@Suite struct ComparatorTests {
    @Test func distinguishesDifferentValues() {
        #expect(!sameJSON(["a": 1], ["a": 2]))
        #expect(!sameJSON(["a": 1], ["b": 1]))
        #expect(!sameJSON(["a": 1, "b": 2], ["b": 2, "a": 1]))
        #expect(sameJSON(["a": 1, "b": 2], ["b": 2, "a": 1], unorderedObjects: true))
        #expect(!sameJSON([1, 2], [2, 1], unorderedObjects: true))
        #expect(!sameJSON("1", 1))
        #expect(!sameJSON(.numberText("0.1"), .numberText("0.10000000000000002")))
        #expect(sameJSON(.numberText("1.4013e-45"), .numberText("1e-45")))
        #expect(!sameJSON(.numberText("0.1"), .numberText("0.10000000149011612")))
    }
}
