import NIOCore
import Testing

@testable import BFFRuntime

/// RESP2 replies decoded from bytes, however they are split, and commands encoded to bytes.
@Suite("Redis: RESP codec")
struct RESPCodecTests {
    static func decodeAll(_ text: String, limits: RESPReplyDecoder.Limits = .init()) throws(RedisError) -> [RESPValue] {
        var buffer = ByteBuffer(string: text)
        var values: [RESPValue] = []
        while let value = try RESPReplyDecoder(limits: limits).next(from: &buffer) { values.append(value) }
        #expect(buffer.readableBytes == 0)
        return values
    }

    @Test("every reply type decodes: simple string, error, integer, bulk, empty bulk, nil, arrays, nested and nil arrays")
    func everyType() throws {
        let values = try Self.decodeAll("+OK\r\n-ERR wrong\r\n:-42\r\n$5\r\nhe\r\no\r\n$0\r\n\r\n$-1\r\n*2\r\n:1\r\n*1\r\n+x\r\n*0\r\n*-1\r\n")
        #expect(values == [
            .simpleString("OK"), .error("ERR wrong"), .integer(-42), .bulkString(ByteBuffer(string: "he\r\no")),
            .bulkString(ByteBuffer()), .null, .array([.integer(1), .array([.simpleString("x")])]), .array([]), .null,
        ])
    }

    @Test("a reply split at every byte decodes only once complete, and leaves the next one's bytes alone")
    func splitReads() throws {
        let reply = "*3\r\n$3\r\nfoo\r\n:7\r\n*2\r\n+a\r\n$-1\r\n"
        let bytes = Array(reply.utf8) + Array("+NEXT\r\n".utf8)
        var buffer = ByteBuffer()
        var decoded: [RESPValue] = []
        let decoder = RESPReplyDecoder()
        for (index, byte) in bytes.enumerated() {
            buffer.writeInteger(byte)
            if let value = try decoder.next(from: &buffer) {
                decoded.append(value)
                #expect(index == reply.utf8.count - 1 || index == bytes.count - 1)
            }
        }
        #expect(decoded == [
            .array([.bulkString(ByteBuffer(string: "foo")), .integer(7), .array([.simpleString("a"), .null])]),
            .simpleString("NEXT"),
        ])
    }

    @Test("oversize replies are refused before their bytes arrive: bulk length, array count, nesting, line and reply size")
    func oversize() throws {
        var limits = RESPReplyDecoder.Limits()
        limits.bulkBytes = 16
        limits.arrayElements = 4
        limits.depth = 2
        limits.lineBytes = 32
        limits.replyBytes = 64
        func refused(_ text: String) -> Bool {
            var buffer = ByteBuffer(string: text)
            do {
                _ = try RESPReplyDecoder(limits: limits).next(from: &buffer)
                return false
            } catch {
                if case .protocolError = error { return true }
                return false
            }
        }
        #expect(refused("$17\r\n"))
        #expect(refused("$9223372036854775807\r\n"))
        #expect(refused("*5\r\n"))
        #expect(refused("*1\r\n*1\r\n*1\r\n"))
        #expect(refused("+" + String(repeating: "a", count: 40)))
        #expect(refused("*4\r\n$16\r\n" + String(repeating: "b", count: 16) + "\r\n$16\r\n" + String(repeating: "c", count: 16) + "\r\n$16\r\n" + String(repeating: "d", count: 16)))
        #expect(!refused("$16\r\n"))
        #expect(!refused("*4\r\n"))
        #expect(!refused("*1\r\n*1\r\n:1\r\n"))
    }

    @Test("malformed replies are protocol errors: unknown type byte, non-numeric integer, bulk without CRLF, CR without LF")
    func malformed() {
        for text in ["?x\r\n", ":12a\r\n", "$2\r\nabXY", "+a\rb\r\n", "$-2\r\n"] {
            #expect(throws: RedisError.self) { try Self.decodeAll(text) }
        }
    }

    @Test("commands are arrays of bulk strings, lengths counted in UTF-8 bytes")
    func encoding() {
        var out = ByteBuffer()
        RESPCommandEncoder().encode(data: ["SET", "k", "h\u{e9}"], out: &out)
        #expect(String(buffer: out) == "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\nh\u{e9}\r\n")
    }
}
