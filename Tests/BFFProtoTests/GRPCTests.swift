import BFFProto
import BFFSpec
import Testing

@Suite struct FramingTests {
    @Test func framesWithFlagAndBigEndianLength() {
        #expect(GRPCMessage.frame([1, 2, 3]) == [0, 0, 0, 0, 3, 1, 2, 3])
        #expect(GRPCMessage.frame([]) == [0, 0, 0, 0, 0])
        let big = [UInt8](repeating: 7, count: 0x01_02_03)
        #expect(Array(GRPCMessage.frame(big).prefix(5)) == [0, 0, 0x01, 0x02, 0x03])
    }

    @Test func readsMessagesSplitAcrossChunks() throws {
        let stream = GRPCMessage.frame([1, 2, 3]) + GRPCMessage.frame([]) + GRPCMessage.frame(Array(0..<200))
        var reader = GRPCMessageReader(maxMessageBytes: 1024)
        var messages: [[UInt8]] = []
        for byte in stream {
            reader.append(CollectionOfOne(byte))
            while let message = try reader.next() { messages.append(message) }
        }
        #expect(messages == [[1, 2, 3], [], Array(0..<200)])
        #expect(reader.bufferedByteCount == 0)
        try reader.finish()
    }

    @Test func readsSeveralMessagesFromOneChunk() throws {
        var reader = GRPCMessageReader()
        reader.append(GRPCMessage.frame([9]) + GRPCMessage.frame([8, 8]) + [0, 0])
        #expect(try reader.next() == [9])
        #expect(try reader.next() == [8, 8])
        #expect(try reader.next() == nil)
        #expect(throws: GRPCFramingError.truncatedMessage(bufferedBytes: 2)) { try reader.finish() }
        reader.append([0, 0, 1, 5])
        #expect(try reader.next() == [5])
        try reader.finish()
    }

    @Test func refusesCompressedAndUnknownFlags() {
        var compressed = GRPCMessageReader()
        compressed.append([1, 0, 0, 0, 1, 0])
        #expect(throws: GRPCFramingError.compressedMessage) { try compressed.next() }
        var unknown = GRPCMessageReader()
        unknown.append([2])
        #expect(throws: GRPCFramingError.invalidFlag(2)) { try unknown.next() }
        var high = GRPCMessageReader()
        high.append([0x80, 0, 0, 0, 0])
        #expect(throws: GRPCFramingError.invalidFlag(0x80)) { try high.next() }
    }

    @Test func refusesOversizedMessagesBeforeTheBodyArrives() throws {
        var reader = GRPCMessageReader(maxMessageBytes: 10)
        reader.append([0, 0, 0, 0, 11])
        #expect(throws: GRPCFramingError.messageTooLarge(length: 11, limit: 10)) { try reader.next() }
        var huge = GRPCMessageReader(maxMessageBytes: 10)
        huge.append([0, 0xFF, 0xFF, 0xFF, 0xFF])
        #expect(throws: GRPCFramingError.messageTooLarge(length: 4_294_967_295, limit: 10)) { try huge.next() }
        var exact = GRPCMessageReader(maxMessageBytes: 10)
        exact.append(GRPCMessage.frame(Array(repeating: 1, count: 10)))
        #expect(try exact.next()?.count == 10)
    }

    @Test func transcodesAFramedRequest() throws {
        let pool = try testPool()
        let method = try #require(pool.method("/bfftest.v1.Users/GetUser"))
        let body = try ProtoJSON.encode(["userId": "42"], as: method.input, pool: pool)
        var reader = GRPCMessageReader()
        reader.append(GRPCMessage.frame(body))
        let payload = try #require(try reader.next())
        #expect(try ProtoJSON.decode(payload, as: method.input, pool: pool) == ["userId": "42"])
    }
}

@Suite struct StatusTests {
    @Test func codesAndCanonicalNames() {
        let names = [
            "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
            "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED",
            "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
        ]
        #expect(GRPCStatus.allCases.map(\.name) == names)
        #expect(GRPCStatus.allCases.map(\.rawValue) == Array(0...16))
        #expect(GRPCStatus.deadlineExceeded.description == "DEADLINE_EXCEEDED")
    }

    @Test func parsesStatusHeader() {
        #expect(GRPCStatus(grpcStatus: "0") == .ok)
        #expect(GRPCStatus(grpcStatus: "4") == .deadlineExceeded)
        #expect(GRPCStatus(grpcStatus: "16") == .unauthenticated)
        for bad in ["17", "", "-1", "+4", " 4", "4 ", "OK", "100", "1.0"] {
            #expect(GRPCStatus(grpcStatus: bad) == nil, "\(bad)")
        }
    }

    @Test func percentDecodesMessage() {
        #expect(GRPCStatus.message(fromHeader: "plain text") == "plain text")
        #expect(GRPCStatus.message(fromHeader: "hello%20world%21") == "hello world!")
        #expect(GRPCStatus.message(fromHeader: "caf%C3%A9 %E2%9C%93") == "café ✓")
        #expect(GRPCStatus.message(fromHeader: "100%") == "100%")
        #expect(GRPCStatus.message(fromHeader: "%zz%4") == "%zz%4")
        #expect(GRPCStatus.message(fromHeader: "bad %FF byte") == "bad \u{FFFD} byte")
        #expect(GRPCStatus.message(fromHeader: "%25%32%35") == "%25")
    }
}

@Suite struct TimeoutTests {
    @Test(arguments: [
        (Duration.nanoseconds(1), "1n"),
        (.nanoseconds(99_999_999), "99999999n"),
        (.nanoseconds(100_000_000), "100000u"),
        // Truncated, not rounded: the server must not be told it has more time than the caller.
        (.nanoseconds(123_456_789), "123456u"),
        (.milliseconds(250), "250000u"),
        (.seconds(1), "1000000u"),
        (.seconds(100), "100000m"),
        (.seconds(99_999), "99999000m"),
        (.seconds(100_000), "100000S"),
        (.seconds(100_000_000), "1666666M"),
        (.seconds(6_000_000_000), "1666666H"),
        (.seconds(Int64.max), "99999999H"),
        (.zero, "0n"),
        (.seconds(-5), "0n"),
        (.nanoseconds(1) / 2, "0n"),
    ])
    func formatsHeader(_ duration: Duration, _ expected: String) {
        let header = GRPCTimeout.header(for: duration)
        #expect(header == expected)
        #expect(header.dropLast().count <= 8)
    }
}
