import BFFProto
import BFFSpec
import Testing

@Suite struct DescriptorPoolTests {
    @Test func resolvesMethodsByPath() throws {
        let pool = try testPool()
        let getUser = try #require(pool.method("bfftest.v1.Users/GetUser"))
        #expect(getUser.input.fullName == "bfftest.v1.GetUserRequest")
        #expect(getUser.output.fullName == "bfftest.v1.User")
        #expect(getUser.serviceName == "bfftest.v1.Users")
        #expect(!getUser.clientStreaming && !getUser.serverStreaming)
        #expect(pool.method("/bfftest.v1.Users/GetUser")?.path == "bfftest.v1.Users/GetUser")

        let list = try #require(pool.method("bfftest.v1.Users/ListUsers"))
        #expect(list.serverStreaming && !list.clientStreaming)
        #expect(pool.method("bfftest.v1.Users/Ping")?.input.fullName == "google.protobuf.Empty")
        #expect(pool.methodPaths == ["bfftest.v1.Users/GetUser", "bfftest.v1.Users/ListUsers", "bfftest.v1.Users/Ping"])
    }

    @Test func unknownMethodPathsAreNil() throws {
        let pool = try testPool()
        #expect(pool.method("bfftest.v1.Users/DeleteUser") == nil)
        #expect(pool.method("bfftest.v1.Nobody/GetUser") == nil)
        #expect(pool.method("GetUser") == nil)
        #expect(pool.method("") == nil)
        #expect(pool.method("//bfftest.v1.Users/GetUser") == nil)
    }

    @Test func resolvesNestedAndQualifiedNames() throws {
        let pool = try testPool()
        #expect(pool.message("bfftest.v1.User.Address.Geo")?.fields.map(\.name) == ["lat", "lng"])
        #expect(pool.message(".bfftest.v1.User")?.fullName == "bfftest.v1.User")
        #expect(pool.message("User") == nil)
        #expect(pool.message("google.protobuf.Timestamp") != nil)
        let address = try #require(pool.message("bfftest.v1.User")?.field(jsonKey: "address"))
        #expect(address.typeName == "bfftest.v1.User.Address")
        #expect(pool.enumType("bfftest.v1.Role")?.number(named: "ROLE_BANNED") == -1)
    }

    @Test func fieldAttributesMatchTheProto() throws {
        let pool = try testPool()
        let user = try message("bfftest.v1.User", in: pool)
        #expect(user.fields.map(\.number) == user.fields.map(\.number).sorted())
        let age = try #require(user.field(number: 3))
        #expect(age.name == "age" && age.type == .int32 && !age.hasPresence && !age.isRepeated)
        #expect(user.field(jsonKey: "addressLine2") == nil)
        #expect(try message("bfftest.v1.User.Address", in: pool).field(number: 4)?.jsonName == "addressLine2")
        #expect(user.field(jsonKey: "legacyAlias")?.name == "legacy_field")
        #expect(user.field(jsonKey: "legacy_field")?.number == 45)
        #expect(user.field(jsonKey: "display_name")?.number == 2)
        let counters = try #require(user.field(jsonKey: "counters"))
        #expect(counters.isMap && counters.isRepeated && !counters.isPacked)
        #expect(try message("bfftest.v1.User.CountersEntry", in: pool).isMapEntry)
        #expect(user.field(jsonKey: "luckyNumbers")?.isPacked == true)
        #expect(user.field(jsonKey: "tags")?.isPacked == false)
        let nickname = try #require(user.field(jsonKey: "nickname"))
        #expect(nickname.isProto3Optional && nickname.hasPresence)
        let email = try #require(user.field(jsonKey: "email"))
        let oneof = try #require(email.oneofIndex)
        #expect(user.oneofNames[oneof] == "contact" && email.hasPresence && !email.isProto3Optional)
        #expect(user.field(jsonKey: "role")?.type == .enum)
        #expect(user.field(number: 100000)?.jsonName == "farAway")
    }

    @Test func concatenatedSetsAndUnknownFieldsLoad() throws {
        let set = try resource("test", "pb")
        // Concatenated serialized sets are one set with every file twice; repeats are skipped.
        let doubled = try DescriptorPool(descriptorSet: set + set)
        #expect(doubled.method("bfftest.v1.Users/GetUser") != nil)
        // An unknown top-level field (number 99) and an unknown field inside a file are skipped.
        let extra = ProtoWriter.build { w in
            w.int(99, 7)
            w.message(1, ProtoWriter.build { file in
                file.string(1, "extra.proto")
                file.int(1000, 5)
                file.message(4, ProtoWriter.build { msg in msg.string(1, "Lonely"); msg.string(500, "ignored") })
            })
        }
        let pool = try DescriptorPool(descriptorSet: set + extra)
        #expect(pool.message("Lonely")?.fields.isEmpty == true)
    }

    @Test func methodWithMissingTypeIsAnError() {
        let set = ProtoWriter.build { w in
            w.message(1, ProtoWriter.build { file in
                file.string(1, "broken.proto")
                file.string(2, "broken.v1")
                file.message(4, ProtoWriter.build { msg in msg.string(1, "Reply") })
                file.message(6, ProtoWriter.build { service in
                    service.string(1, "Svc")
                    service.message(2, ProtoWriter.build { method in
                        method.string(1, "Call")
                        method.string(2, ".broken.v1.Missing")
                        method.string(3, ".broken.v1.Reply")
                    })
                })
            })
        }
        #expect(throws: DescriptorError.unresolvedType(typeName: ".broken.v1.Missing", referencedBy: "method broken.v1.Svc/Call")) {
            try DescriptorPool(descriptorSet: set)
        }
    }

    @Test func fieldWithMissingTypeIsAnError() {
        let set = ProtoWriter.build { w in
            w.message(1, ProtoWriter.build { file in
                file.string(1, "broken.proto")
                file.message(4, ProtoWriter.build { msg in
                    msg.string(1, "Holder")
                    msg.message(2, ProtoWriter.build { field in
                        field.string(1, "ghost")
                        field.int(3, 1)
                        field.int(4, 1)
                        field.int(5, 11)
                        field.string(6, ".Ghost")
                    })
                })
            })
        }
        #expect(throws: DescriptorError.unresolvedType(typeName: ".Ghost", referencedBy: "field Holder.ghost")) {
            try DescriptorPool(descriptorSet: set)
        }
    }

    @Test func malformedSetsAreErrors() throws {
        let set = try resource("test", "pb")
        #expect(throws: DescriptorError.self) { try DescriptorPool(descriptorSet: Array(set.dropLast(3))) }
        #expect(throws: DescriptorError.self) { try DescriptorPool(descriptorSet: [0x0A, 0x05, 0x0A]) }
        #expect(throws: DescriptorError.self) { try DescriptorPool(descriptorSet: [0x0A, 0x03, 0x0A, 0x01, 0xFF]) }
        let error = try #require(throws: DescriptorError.self) { try DescriptorPool(descriptorSet: [0x0A, 0x80]) }
        #expect(error.description.contains("truncated varint"))
    }

    @Test func emptySetIsAnEmptyPool() throws {
        let pool = try DescriptorPool(descriptorSet: [])
        #expect(pool.methodPaths.isEmpty)
        #expect(pool.message("google.protobuf.Empty") == nil)
    }
}
