import BFFSpec
import NIOCore
import NIOHTTP1
import Testing

@testable import BFFRuntime

/// The encoders write once over raw bytes and, when that does not fit, again through
/// `ByteBuffer`'s own writes: both must give the same bytes, and nothing of a run that did not
/// fit may be kept.
@Suite("Encoders written over raw bytes")
struct ByteSinkTests {
    /// A call's outcome with every optional part of its `_meta` entry at its longest.
    static var longest: CallOutcome {
        var outcome = CallOutcome.failed(.circuitOpen, http: Int.max, milliseconds: 1e15, fallback: nil, reason: "x")
        outcome.source = .fallback
        outcome.ageSeconds = Int.min
        outcome.attempts = Int.max
        outcome.hedged = true
        return outcome
    }

    static let names = CallNames(["user", "a_much_longer_call_name_than_usual", "x"])
    static let outcomes: [CallOutcome] = [
        .ok(http: 200, milliseconds: 2.1, body: ByteBuffer(string: "{}"), value: nil),
        longest,
        .failed(.timeout, milliseconds: 300, fallback: .null, reason: "slow"),
    ]

    static func viaBuffer(_ write: (inout ByteBuffer) -> Void) -> String {
        var buffer = ByteBuffer()
        write(&buffer)
        return String(buffer: buffer)
    }

    @Test("_meta and Server-Timing fit the room their call names give them, even at their longest, and read the same both ways")
    func metaFits() {
        let longest = [Self.longest, Self.longest, Self.longest]
        for (write, size) in [
            ({ (sink: inout RawByteWriter) in ResponseComposer.writeMeta(names: Self.names, outcomes: longest, to: &sink) }, Self.names.metaSize),
            ({ (sink: inout RawByteWriter) in ResponseComposer.writeServerTiming(names: Self.names, outcomes: longest, to: &sink) }, Self.names.timingSize),
        ] {
            let bytes = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 1)
            defer { bytes.deallocate() }
            var writer = RawByteWriter(bytes)
            write(&writer)
            #expect(!writer.overflowed)
        }
        var direct = ByteBuffer()
        direct.writeDirect(
            expecting: Self.names.metaSize,
            { ResponseComposer.writeMeta(names: Self.names, outcomes: Self.outcomes, to: &$0) },
            orElse: { _ in Issue.record("the fallback ran although the room was enough") }
        )
        let expected = Self.viaBuffer { ResponseComposer.writeMeta(names: Self.names, outcomes: Self.outcomes, to: &$0) }
        #expect(String(buffer: direct) == expected)
        #expect(expected.contains(#""http":9223372036854775807"#) && expected.contains(#""age_s":-9223372036854775808"#))
    }

    @Test("a run that does not fit keeps nothing and the fallback writes it all, after what the buffer held")
    func overflowFallsBack() {
        // Room for the first few writes, not for all of them.
        var buffer = ByteBufferAllocator().buffer(capacity: 64)
        buffer.writeString("before|")
        var fellBack = false
        buffer.writeDirect(
            expecting: 1,
            { ResponseComposer.writeMeta(names: Self.names, outcomes: Self.outcomes, to: &$0) },
            orElse: {
                fellBack = true
                ResponseComposer.writeMeta(names: Self.names, outcomes: Self.outcomes, to: &$0)
            }
        )
        #expect(fellBack)
        #expect(String(buffer: buffer) == "before|" + Self.viaBuffer { ResponseComposer.writeMeta(names: Self.names, outcomes: Self.outcomes, to: &$0) })
    }

    @Test("the raw writer stops at its end: every kind of write, and nothing past the bytes it was given")
    func rawWriterBounds() {
        let bytes = UnsafeMutableRawBufferPointer.allocate(byteCount: 8, alignment: 1)
        defer { bytes.deallocate() }
        bytes.initializeMemory(as: UInt8.self, repeating: 0)
        var writer = RawByteWriter(UnsafeMutableRawBufferPointer(rebasing: bytes[0..<6]))
        writer.write("ab")
        writer.write(byte: UInt8(ascii: "c"))
        writer.write([UInt8(ascii: "d")])
        writer.write(ByteBuffer(string: "e"))
        #expect(!writer.overflowed && writer.count == 5)
        writer.write("fg")
        #expect(writer.overflowed)
        writer.write(byte: UInt8(ascii: "h"))
        #expect(writer.count == 5)
        #expect(Array(bytes) == Array("abcde".utf8) + [0, 0, 0])
    }

    @Test("an upstream head with headers far beyond the usual room is written whole")
    func largeHead() {
        var request = UpstreamRequest(target: "/users/" + String(repeating: "a", count: 3000), headers: ["x-big": String(repeating: "b", count: 5000)])
        request.lastField = ("X-Request-Deadline-Ms", "250")
        var buffer = ByteBuffer()
        _ = request.writeHead(for: UpstreamRequestEncodingTests.service, bodyLength: nil, into: &buffer)
        let head = String(buffer: buffer)
        #expect(head.hasPrefix("GET /base/users/aaa"))
        #expect(head.hasSuffix("x-big: " + String(repeating: "b", count: 5000) + "\r\nX-Request-Deadline-Ms: 250\r\n\r\n"))
    }
}
