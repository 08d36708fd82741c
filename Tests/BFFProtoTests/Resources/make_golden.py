#!/usr/bin/env python3
"""Writes golden.json: proto3 JSON <-> binary vectors produced by Python protobuf (upb), an
implementation independent of BFFProto, from the descriptor set test.pb.

Each case is {name, message, json?, binary_hex, canonical, unordered_maps}:
- json: the JSON given to json_format.Parse (absent for binary-only cases);
- binary_hex: Python's serialization of that JSON, or hand-built wire bytes for binary-only cases;
- canonical: what json_format.MessageToJson prints for binary_hex;
- unordered_maps: upb iterates maps in hash order, so bytes and key order of multi-entry maps
  are not comparable; the Swift tests then compare by decoding and ignore map key order.

Run from this directory:  python3 make_golden.py
"""
import json
import os

from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory

HERE = os.path.dirname(os.path.abspath(__file__))

with open(os.path.join(HERE, "test.pb"), "rb") as f:
    FDS = descriptor_pb2.FileDescriptorSet.FromString(f.read())
POOL = descriptor_pool.DescriptorPool()
for file in FDS.file:
    POOL.Add(file)


def message_class(name):
    return message_factory.GetMessageClass(POOL.FindMessageTypeByName(name))


def canonical(msg):
    return json.loads(json_format.MessageToJson(msg))


# (name, message, JSON text, unordered_maps)
JSON_CASES = [
    ("empty", "bfftest.v1.User", "{}", False),
    ("strings", "bfftest.v1.User", '{"id": "u1", "displayName": "Ada Lovelace \\u00e9\\u4e2d\\ud83d\\ude00"}', False),
    ("proto field names accepted", "bfftest.v1.User", '{"display_name": "Ada", "small_delta": -3}', False),
    ("json_name override", "bfftest.v1.User", '{"legacyAlias": "old"}', False),
    ("int32 kinds", "bfftest.v1.User",
     '{"age": -42, "smallDelta": -2147483648, "level": 4294967295, "flags": 4294967295, "tz": -2147483648}', False),
    ("int32 from strings and exponent", "bfftest.v1.User", '{"age": "17", "level": 1e3, "tz": "-5"}', False),
    ("64-bit kinds as strings", "bfftest.v1.User",
     '{"balance": "-9223372036854775808", "visits": "18446744073709551615", "delta": "-9223372036854775807",'
     ' "checksum": "18446744073709551615", "offset": "-1"}', False),
    ("64-bit kinds as numbers", "bfftest.v1.User",
     '{"balance": 9223372036854775807, "visits": 9007199254740993, "delta": 1, "checksum": 12, "offset": -9223372036854775808}',
     False),
    ("bool double float", "bfftest.v1.User", '{"active": true, "score": 3.141592653589793, "ratio": 0.1}', False),
    ("double extremes", "bfftest.v1.User", '{"score": 1.7976931348623157e308, "ratio": -3.4028234663852886e38}', False),
    ("double tiny", "bfftest.v1.User", '{"score": 5e-324, "ratio": 1.401298464324817e-45}', False),
    ("nan", "bfftest.v1.User", '{"score": "NaN", "ratio": "NaN"}', False),
    ("infinities", "bfftest.v1.User", '{"score": "Infinity", "ratio": "-Infinity"}', False),
    ("double from string", "bfftest.v1.User", '{"score": "2.5", "ratio": "-0.25"}', False),
    ("bytes standard base64", "bfftest.v1.User", '{"avatar": "AAEC/f7/"}', False),
    ("bytes url-safe base64 unpadded", "bfftest.v1.User", '{"avatar": "AAEC_f7_-w"}', False),
    ("bytes padding", "bfftest.v1.User", '{"avatar": "YQ==", "blobs": ["YWI=", "YWJj", ""]}', False),
    ("enum by name", "bfftest.v1.User", '{"role": "ROLE_ADMIN"}', False),
    ("enum by number", "bfftest.v1.User", '{"role": 2}', False),
    ("enum negative", "bfftest.v1.User", '{"role": "ROLE_BANNED"}', False),
    ("enum unknown number", "bfftest.v1.User", '{"role": 7}', False),
    ("nested messages", "bfftest.v1.User",
     '{"address": {"street": "1 Main St", "zip": "12345", "geo": {"lat": 51.5, "lng": -0.12}, "addressLine2": "Apt 4"}}',
     False),
    ("empty nested message kept", "bfftest.v1.User", '{"address": {}}', False),
    ("repeated scalars packed", "bfftest.v1.User",
     '{"tags": ["a", "", "c"], "luckyNumbers": [7, -1, 0, 300], "samples": [1.5, -2, 0], "hashes": ["1", 2],'
     ' "bits": [true, false, true], "steps": [-1, 1, -64, 64], "ledger": ["-1", "9223372036854775807"]}', False),
    ("repeated enums", "bfftest.v1.User", '{"pastRoles": ["ROLE_ADMIN", 2, "ROLE_BANNED", "ROLE_UNSPECIFIED"]}', False),
    ("repeated messages", "bfftest.v1.User",
     '{"previousAddresses": [{"street": "a"}, {}, {"zip": "z", "geo": {"lat": 1}}]}', False),
    ("map string int64 single", "bfftest.v1.User", '{"counters": {"logins": "12"}}', False),
    ("map string int64 many", "bfftest.v1.User", '{"counters": {"a": 1, "b": "-2", "": "9223372036854775807"}}', True),
    ("map int32 message single", "bfftest.v1.User", '{"addressesById": {"-7": {"street": "x"}}}', False),
    ("map int32 message many", "bfftest.v1.User", '{"addressesById": {"1": {"street": "x"}, "2": {}, "0": {"zip": "9"}}}', True),
    ("map default entry", "bfftest.v1.User", '{"counters": {"": "0"}, "addressesById": {"0": {}}}', False),
    ("map bool and uint64 keys", "bfftest.v1.User", '{"flagsByBool": {"true": "yes"}, "namesById": {"18446744073709551615": "max"}}', False),
    ("oneof string", "bfftest.v1.User", '{"email": "a@b.c"}', False),
    ("oneof default value has presence", "bfftest.v1.User", '{"phone": ""}', False),
    ("oneof message", "bfftest.v1.User", '{"mailing": {"zip": "1"}}', False),
    ("oneof with null sibling", "bfftest.v1.User", '{"email": "a@b.c", "phone": null}', False),
    ("proto3 optional default", "bfftest.v1.User", '{"nicknameLength": 0, "nickname": ""}', False),
    ("proto3 optional set", "bfftest.v1.User", '{"nicknameLength": 5, "nickname": "adder"}', False),
    ("nulls mean absent", "bfftest.v1.User",
     '{"id": null, "age": null, "address": null, "tags": null, "counters": null, "role": null, "createdAt": null}', False),
    ("defaults omitted", "bfftest.v1.User",
     '{"id": "", "age": 0, "balance": "0", "active": false, "score": 0, "role": "ROLE_UNSPECIFIED", "tags": [], "counters": {}}',
     False),
    ("timestamp utc", "bfftest.v1.User", '{"createdAt": "2024-05-01T10:00:00Z"}', False),
    ("timestamp fraction", "bfftest.v1.User", '{"createdAt": "2024-05-01T10:00:00.5Z"}', False),
    ("timestamp offset", "bfftest.v1.User", '{"createdAt": "2024-05-01T12:30:00.123456+02:30"}', False),
    ("timestamp nanos", "bfftest.v1.User", '{"createdAt": "1969-12-31T23:59:59.000000001Z"}', False),
    ("timestamp min", "bfftest.v1.User", '{"createdAt": "0001-01-01T00:00:00Z"}', False),
    ("timestamp max", "bfftest.v1.User", '{"createdAt": "9999-12-31T23:59:59.999999999Z"}', False),
    ("timestamp epoch", "bfftest.v1.User", '{"createdAt": "1970-01-01T00:00:00Z"}', False),
    ("timestamp leap day", "bfftest.v1.User", '{"createdAt": "2000-02-29T23:59:59.120Z"}', False),
    ("duration", "bfftest.v1.User", '{"sessionTtl": "1.5s"}', False),
    ("duration negative micro", "bfftest.v1.User", '{"sessionTtl": "-0.000001s"}', False),
    ("duration whole", "bfftest.v1.User", '{"sessionTtl": "3600s"}', False),
    ("duration zero", "bfftest.v1.User", '{"sessionTtl": "0s"}', False),
    ("duration max", "bfftest.v1.User", '{"sessionTtl": "-315576000000.999999999s"}', False),
    ("wrappers top level fields", "bfftest.v1.User", '{"quota": "9223372036854775807", "note": ""}', False),
    ("wrappers all", "bfftest.v1.User",
     '{"wrappers": {"d": 1.25, "f": "Infinity", "i64": -5, "u64": "18446744073709551615", "i32": -2147483648,'
     ' "u32": 4294967295, "b": false, "s": "text", "by": "AQID"}}', False),
    ("wrappers default values kept", "bfftest.v1.User",
     '{"wrappers": {"d": 0, "i64": "0", "i32": 0, "b": false, "s": "", "by": ""}}', False),
    ("empty message", "bfftest.v1.User", '{"marker": {}}', False),
    ("struct", "bfftest.v1.User",
     '{"attributes": {"plan": "pro", "seats": 3, "tags": ["x", 1.5, null, true], "nested": {"deep": {}}, "none": null}}',
     True),
    ("struct single", "bfftest.v1.User", '{"attributes": {"a": [1, null, {"b": true}]}}', False),
    ("struct empty", "bfftest.v1.User", '{"attributes": {}}', False),
    ("value null", "bfftest.v1.User", '{"extra": null}', False),
    ("value string", "bfftest.v1.User", '{"extra": "hi"}', False),
    ("value number", "bfftest.v1.User", '{"extra": -12.5}', False),
    ("value list", "bfftest.v1.User", '{"extra": [[], {}, false]}', False),
    ("list value", "bfftest.v1.User", '{"history": [1, "two", null, [3]]}', False),
    ("list value empty", "bfftest.v1.User", '{"history": []}', False),
    ("field mask", "bfftest.v1.User", '{"updateMask": "displayName,address.zip,address.addressLine2"}', False),
    ("field mask empty", "bfftest.v1.User", '{"updateMask": ""}', False),
    ("large field number", "bfftest.v1.User", '{"farAway": 1}', False),
    ("request with mask", "bfftest.v1.GetUserRequest", '{"userId": "42", "readMask": "id,displayName"}', False),
    ("list request", "bfftest.v1.ListUsersRequest", '{"pageSize": 10, "pageToken": "t", "roles": ["ROLE_MEMBER"]}', False),
    ("recursive", "bfftest.v1.Node", '{"child": {"child": {"value": 3}, "value": 2}, "value": 1}', False),
    ("top-level timestamp", "google.protobuf.Timestamp", '"2024-05-01T10:00:00.5Z"', False),
    ("top-level duration", "google.protobuf.Duration", '"-1.5s"', False),
    ("top-level struct", "google.protobuf.Struct", '{"k": "v"}', False),
    ("top-level value", "google.protobuf.Value", '{"k": [1]}', False),
    ("top-level empty", "google.protobuf.Empty", '{}', False),
    ("top-level int64 wrapper", "google.protobuf.Int64Value", '"-12"', False),
    ("top-level field mask", "google.protobuf.FieldMask", '"a.bC,d"', False),
    ("everything", "bfftest.v1.User",
     '{"id": "u", "displayName": "D", "age": 1, "balance": "2", "visits": "3", "delta": "-4", "checksum": "5",'
     ' "offset": "-6", "smallDelta": -7, "level": 8, "flags": 9, "tz": -10, "active": true, "score": 0.5,'
     ' "ratio": 0.25, "avatar": "AA==", "role": "ROLE_MEMBER", "address": {"zip": "z"}, "tags": ["t"],'
     ' "luckyNumbers": [1], "previousAddresses": [{}], "pastRoles": [1], "counters": {"c": "1"},'
     ' "addressesById": {"3": {"street": "s"}}, "mailing": {}, "nicknameLength": 0, "nickname": "n",'
     ' "createdAt": "2024-01-01T00:00:00Z", "sessionTtl": "2s", "quota": "7", "note": "note",'
     ' "attributes": {"k": 1}, "marker": {}, "updateMask": "a", "samples": [1], "hashes": ["1"], "bits": [true],'
     ' "steps": [-1], "flagsByBool": {"false": "f"}, "namesById": {"1": "one"}, "extra": true, "history": ["h"],'
     ' "legacyAlias": "l", "wrappers": {"b": true}, "blobs": ["AA=="], "ledger": ["1"], "farAway": -1}', False),
]


def tag(number, wire_type):
    return varint(number << 3 | wire_type)


def varint(value):
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def ld(number, payload):
    return tag(number, 2) + varint(len(payload)) + payload


# (name, message, wire bytes): inputs a JSON encoder never produces but a decoder must accept.
BINARY_CASES = [
    ("unpacked repeated int32", "bfftest.v1.User", tag(20, 0) + varint(1) + tag(20, 0) + varint(2)),
    ("packed and unpacked mixed", "bfftest.v1.User",
     ld(20, varint(1) + varint(2)) + tag(20, 0) + varint(3) + ld(20, varint(4))),
    ("unpacked repeated fixed64 and bool", "bfftest.v1.User",
     tag(38, 1) + (7).to_bytes(8, "little") + tag(39, 0) + varint(1)),
    ("unknown fields skipped", "bfftest.v1.User",
     tag(999, 0) + varint(5) + tag(1, 2) + varint(2) + b"id" + tag(998, 1) + bytes(8) + tag(997, 5) + bytes(4)
     + ld(996, b"junk") + tag(995, 3) + tag(1, 0) + varint(1) + tag(995, 4)),
    ("explicit defaults omitted", "bfftest.v1.User",
     tag(3, 0) + varint(0) + ld(1, b"") + tag(13, 0) + varint(0) + tag(14, 1) + bytes(8)),
    ("last scalar wins", "bfftest.v1.User", tag(3, 0) + varint(1) + tag(3, 0) + varint(2)),
    ("singular messages merge", "bfftest.v1.User",
     ld(18, ld(1, b"street")) + ld(18, ld(2, b"zip")) + ld(18, ld(3, tag(1, 1) + bytes(8)))),
    ("last oneof member wins", "bfftest.v1.User", ld(25, b"mail") + ld(26, b"phone")),
    ("map later key overrides", "bfftest.v1.User",
     ld(23, ld(1, b"k") + tag(2, 0) + varint(1)) + ld(23, ld(1, b"k") + tag(2, 0) + varint(2))),
    ("map entry without key or value", "bfftest.v1.User", ld(23, b"") + ld(24, tag(1, 0) + varint(5))),
    ("map entry fields reversed", "bfftest.v1.User", ld(23, tag(2, 0) + varint(9) + ld(1, b"k"))),
    ("int32 sign-extended varint", "bfftest.v1.User", tag(3, 0) + varint(-1)),
    ("int32 from oversized varint truncates", "bfftest.v1.User", tag(3, 0) + varint((1 << 40) + 5)),
    ("enum unknown number", "bfftest.v1.User", tag(17, 0) + varint(99) + ld(22, varint(1) + varint(42))),
    ("bool from large varint", "bfftest.v1.User", tag(13, 0) + varint(300)),
    ("timestamp without nanos", "bfftest.v1.User", ld(30, tag(1, 0) + varint(1714557600))),
    ("timestamp millis", "bfftest.v1.User", ld(30, tag(1, 0) + varint(0) + tag(2, 0) + varint(10_000_000))),
    ("timestamp micros", "bfftest.v1.User", ld(30, tag(2, 0) + varint(10_000))),
    ("duration nanos", "bfftest.v1.User", ld(31, tag(1, 0) + varint(-3) + tag(2, 0) + varint(-5))),
    ("empty wrappers", "bfftest.v1.User", ld(32, b"") + ld(33, b"")),
    ("empty timestamp and duration", "bfftest.v1.User", ld(30, b"") + ld(31, b"")),
    ("empty value list and struct", "bfftest.v1.User", ld(34, b"") + ld(44, b"")),
    ("field mask paths", "bfftest.v1.User", ld(36, ld(1, b"display_name") + ld(1, b"address.geo.lat"))),
    ("float shortest", "bfftest.v1.User", tag(15, 5) + bytes.fromhex("cdcccc3d")),
    ("negative zero double", "bfftest.v1.User", tag(14, 1) + bytes.fromhex("0000000000000080")),
]


def main():
    cases = []
    for name, message, text, unordered in JSON_CASES:
        msg = json_format.Parse(text, message_class(message)())
        binary = msg.SerializeToString()
        cases.append({
            "name": name,
            "message": message,
            "json": json.loads(text),
            "binary_hex": binary.hex(),
            "canonical": canonical(message_class(message).FromString(binary)),
            "unordered_maps": unordered,
        })
    for name, message, binary in BINARY_CASES:
        cases.append({
            "name": name,
            "message": message,
            "binary_hex": binary.hex(),
            "canonical": canonical(message_class(message).FromString(binary)),
            "unordered_maps": False,
        })
    with open(os.path.join(HERE, "golden.json"), "w") as f:
        json.dump(cases, f, indent=1, ensure_ascii=False)
        f.write("\n")
    print(f"wrote {len(cases)} cases")


if __name__ == "__main__":
    main()
