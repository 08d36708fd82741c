import BFFProto
import BFFSpec
import Testing

/// JSON that does not fit the message is rejected with the path and cause.
@Suite struct EncodeErrorTests {
    private func encodeError(_ json: String, as name: String = "bfftest.v1.User") throws -> TranscodingError? {
        let pool = try testPool()
        let type = try message(name, in: pool)
        let value = try JSONParser.parse(json)
        return transcodingError { () throws(TranscodingError) in _ = try ProtoJSON.encode(value, as: type, pool: pool) }
    }

    @Test(arguments: [
        (#"{"nope": 1}"#, "nope: bfftest.v1.User has no field named \"nope\""),
        (#"{"address": {"zip": 5}}"#, "address.zip: expected a string, got a number"),
        (#"{"address": {"geo": {"lat": "north"}}}"#, "address.geo.lat: \"north\" is not a number"),
        (#"{"previousAddresses": [{}, {"street": true}]}"#, "previousAddresses[1].street: expected a string, got a boolean"),
        (#"{"addressesById": {"4": {"zip": []}}}"#, "addressesById[\"4\"].zip: expected a string, got an array"),
        (#"{"age": "abc"}"#, "age: \"abc\" is not a number"),
        (#"{"age": 1.5}"#, "age: 1.5 is not an integer"),
        (#"{"age": true}"#, "age: expected an integer, got a boolean"),
        (#"{"active": "true"}"#, "active: expected a boolean, got a string"),
        (#"{"tags": "x"}"#, "tags: expected an array, got a string"),
        (#"{"luckyNumbers": [1, "x"]}"#, "luckyNumbers[1]: \"x\" is not a number"),
        (#"{"tags": ["a", null]}"#, "tags[1]: null is not allowed as an element of a repeated field"),
        (#"{"address": []}"#, "address: expected an object, got an array"),
        (#"{"counters": []}"#, "counters: expected an object, got an array"),
        (#"{"counters": {"a": null}}"#, "counters[\"a\"]: map values cannot be null"),
        (#"{"counters": {"a": "1e30"}}"#, "counters[\"a\"]: 1e30 is out of range for int64"),
        (#"{"addressesById": {"x": {}}}"#, "addressesById[\"x\"]: \"x\" is not a number"),
        (#"{"flagsByBool": {"yes": "a"}}"#, "flagsByBool[\"yes\"]: map key must be \"true\" or \"false\""),
        (#"{"role": "ROLE_KING"}"#, "role: \"ROLE_KING\" is not a value of enum bfftest.v1.Role"),
        (#"{"role": {}}"#, "role: expected an enum name or number, got an object"),
        (#"{"displayName": "a", "display_name": "b"}"#, "display_name: field display_name is given more than once"),
        (#"{"email": "a@b.c", "phone": "1"}"#, "phone: \"email\" is already set; both belong to oneof contact"),
        (#"{"mailing": {}, "email": "a@b.c"}"#, "email: \"mailing\" is already set; both belong to oneof contact"),
        (#"{"avatar": "!!!!"}"#, "avatar: \"!!!!\" is not valid base64"),
        (#"{"avatar": "abcde"}"#, "avatar: \"abcde\" is not valid base64"),
        (#"{"avatar": "ab=c"}"#, "avatar: \"ab=c\" is not valid base64"),
        (#"{"avatar": 12}"#, "avatar: expected a base64 string, got a number"),
        (#"{"updateMask": "display_name"}"#, "updateMask: field mask path \"display_name\" must be lowerCamelCase without underscores"),
        (#"{"updateMask": ["a"]}"#, "updateMask: expected a comma-separated field mask string, got an array"),
        (#"{"attributes": []}"#, "attributes: expected an object, got an array"),
        (#"{"history": {}}"#, "history: expected an array, got an object"),
        (#"{"quota": "x"}"#, "quota: \"x\" is not a number"),
        (#"{"wrappers": {"b": "yes"}}"#, "wrappers.b: expected a boolean, got a string"),
        (#"{"marker": {"x": 1}}"#, "marker.x: google.protobuf.Empty has no field named \"x\""),
        (#"{"sessionTtl": 5}"#, "sessionTtl: expected a duration string, got a number"),
        (#""not an object""#, "expected an object, got a string"),
    ])
    func rejectsWithPathAndReason(_ json: String, _ expected: String) throws {
        let error = try #require(try encodeError(json))
        #expect(error.description == expected)
        #expect(error.kind == .invalidJSON)
    }

    @Test(arguments: [
        (#"{"age": 2147483648}"#, "age: 2147483648 is out of range for int32"),
        (#"{"age": -2147483649}"#, "age: -2147483649 is out of range for int32"),
        (#"{"age": "3e9"}"#, "age: 3e9 is out of range for int32"),
        (#"{"smallDelta": 2147483648}"#, "smallDelta: 2147483648 is out of range for sint32"),
        (#"{"tz": -2147483649}"#, "tz: -2147483649 is out of range for sfixed32"),
        (#"{"level": -1}"#, "level: -1 is out of range for uint32"),
        (#"{"level": 4294967296}"#, "level: 4294967296 is out of range for uint32"),
        (#"{"flags": 4294967296}"#, "flags: 4294967296 is out of range for fixed32"),
        (#"{"balance": "9223372036854775808"}"#, "balance: 9223372036854775808 is out of range for int64"),
        (#"{"balance": -9223372036854775809}"#, "balance: -9223372036854775809 is out of range for int64"),
        (#"{"visits": "18446744073709551616"}"#, "visits: 18446744073709551616 is out of range for uint64"),
        (#"{"visits": "-1"}"#, "visits: -1 is out of range for uint64"),
        (#"{"checksum": -5}"#, "checksum: -5 is out of range for fixed64"),
        (#"{"ratio": 1e39}"#, "ratio: 1e39 is out of range for float"),
        (#"{"score": 1e309}"#, "score: 1e309 is out of range for double"),
        (#"{"role": 2147483648}"#, "role: 2147483648 is out of range for enum"),
        (#"{"wrappers": {"i32": 2147483648}}"#, "wrappers.i32: 2147483648 is out of range for int32"),
    ])
    func rejectsOutOfRangeNumbers(_ json: String, _ expected: String) throws {
        let error = try #require(try encodeError(json))
        #expect(error.description == expected)
    }

    @Test(arguments: [
        "2024-13-01T00:00:00Z",
        "2024-02-30T00:00:00Z",
        "2023-02-29T00:00:00Z",
        "2024-05-01 10:00:00Z",
        "2024-05-01T10:00:00",
        "2024-05-01T24:00:00Z",
        "2024-05-01T10:00:60Z",
        "2024-05-01T10:00:00.Z",
        "2024-05-01T10:00:00.1234567890Z",
        "2024-05-01T10:00:00+0100",
        "2024-05-01T10:00:00Zjunk",
        "0000-12-31T23:59:59Z",
        "9999-12-31T23:59:59-00:01",
        "24-05-01T10:00:00Z",
        "",
    ])
    func rejectsBadTimestamps(_ text: String) throws {
        let error = try #require(try encodeError(#"{"createdAt": "\#(text)"}"#))
        #expect(error.path == "createdAt")
        #expect(error.description.hasPrefix("createdAt: \"\(text)\": "))
    }

    @Test(arguments: ["1.5", "1.5 s", " 1s", "s", "-s", "1.s", "+1s", "1.0000000001s", "315576000001s", "99999999999999999999s"])
    func rejectsBadDurations(_ text: String) throws {
        let error = try #require(try encodeError(#"{"sessionTtl": "\#(text)"}"#))
        #expect(error.path == "sessionTtl")
    }

    @Test func nestingLimitApplies() throws {
        let pool = try testPool()
        let node = try message("bfftest.v1.Node", in: pool)
        func nested(_ levels: Int) -> JSONValue {
            var value: JSONValue = ["value": 1]
            for _ in 1..<levels { value = ["child": value] }
            return value
        }
        #expect(try ProtoJSON.encode(nested(100), as: node, pool: pool).count > 100)
        let error = try #require(transcodingError { () throws(TranscodingError) in _ = try ProtoJSON.encode(nested(101), as: node, pool: pool) })
        #expect(error.reason == "messages nested deeper than 100")

        // Struct nesting goes through Value/ListValue messages; it is bounded the same way.
        let structType = try message("google.protobuf.Value", in: pool)
        var deep: JSONValue = 1
        for _ in 0..<60 { deep = [deep] }
        #expect(throws: TranscodingError.self) { try ProtoJSON.encode(deep, as: structType, pool: pool) }
    }

    @Test func programmaticNumbersAreAccepted() throws {
        let pool = try testPool()
        let user = try message("bfftest.v1.User", in: pool)
        // .number values come from code rather than the parser; they follow the same rules.
        let bytes = try ProtoJSON.encode(["age": .number(7), "balance": .number(-3), "score": .number(.infinity)], as: user, pool: pool)
        let decoded = try ProtoJSON.decode(bytes, as: user, pool: pool)
        #expect(decoded == ["age": 7, "balance": "-3", "score": "Infinity"])
        #expect(throws: TranscodingError.self) { try ProtoJSON.encode(["age": .number(0.5)], as: user, pool: pool) }
        #expect(throws: TranscodingError.self) { try ProtoJSON.encode(["extra": .number(.nan)], as: user, pool: pool) }
    }
}
