@testable import BFFRuntime
import Testing

/// The frame meter behind WebSocket proxying, fed frames as RFC 6455 lays them out.
@Suite struct WebSocketFrameMeterTests {
    /// A frame: FIN, opcode, and a payload of `length` bytes, masked with a zero key when `masked`.
    static func frame(opcode: UInt8, fin: Bool = true, length: Int, masked: Bool) -> [UInt8] {
        var bytes: [UInt8] = [(fin ? 0x80 : 0) | opcode]
        let mask: UInt8 = masked ? 0x80 : 0
        if length < 126 {
            bytes.append(mask | UInt8(length))
        } else if length <= 0xFFFF {
            bytes += [mask | 126, UInt8(length >> 8), UInt8(length & 0xFF)]
        } else {
            bytes.append(mask | 127)
            bytes += (0..<8).reversed().map { UInt8((length >> ($0 * 8)) & 0xFF) }
        }
        if masked { bytes += [0, 0, 0, 0] }
        return bytes + [UInt8](repeating: 0x61, count: length)
    }

    @Test("whole frames pass; a header cut off at the end of a read is held for the next one")
    func headersAreForwardedWhole() {
        var meter = WebSocketFrameMeter(masked: true, maxMessageBytes: 1 << 20)
        let first = Self.frame(opcode: 1, length: 5, masked: true)
        let second = Self.frame(opcode: 2, length: 70_000, masked: true)
        let bytes = first + second
        // The read ends two bytes into the second frame's header.
        #expect(meter.scan(bytes[..<(first.count + 2)]) == .forward(first.count))
        #expect(meter.atFrameBoundary)
        // The next read starts again with the held bytes.
        #expect(meter.scan(bytes[first.count...].prefix(100)) == .forward(100))
        #expect(!meter.atFrameBoundary)
        #expect(meter.scan(bytes[(first.count + 100)...]) == .forward(bytes.count - first.count - 100))
        #expect(meter.atFrameBoundary)
    }

    @Test("a message is measured over its frames; the frame that takes it over the limit is refused where it starts")
    func messageLimitAcrossFragments() {
        var meter = WebSocketFrameMeter(masked: false, maxMessageBytes: 1000)
        let start = Self.frame(opcode: 1, fin: false, length: 600, masked: false)
        let ping = Self.frame(opcode: 9, length: 4, masked: false)
        let over = Self.frame(opcode: 0, length: 500, masked: false)
        #expect(meter.scan(start + ping + over) == .refuse(at: start.count + ping.count, .messageTooBig(limit: 1000)))
        var fresh = WebSocketFrameMeter(masked: false, maxMessageBytes: 1000)
        let end = Self.frame(opcode: 0, length: 400, masked: false)
        #expect(fresh.scan(start + ping + end + Self.frame(opcode: 2, length: 1000, masked: false)) == .forward(start.count + ping.count + end.count + 1004))
    }

    @Test("masking, opcodes and control frames follow RFC 6455")
    func protocolRules() {
        func refusal(_ bytes: [UInt8], masked: Bool) -> WebSocketFrameMeter.Violation? {
            var meter = WebSocketFrameMeter(masked: masked, maxMessageBytes: 1 << 20)
            if case .refuse(at: 0, let violation) = meter.scan(bytes) { return violation }
            return nil
        }
        #expect(refusal(Self.frame(opcode: 1, length: 3, masked: false), masked: true)?.closeCode == 1002, "a client frame must be masked")
        #expect(refusal(Self.frame(opcode: 1, length: 3, masked: true), masked: false)?.closeCode == 1002, "a server frame must not be")
        #expect(refusal(Self.frame(opcode: 3, length: 0, masked: true), masked: true)?.closeCode == 1002, "reserved opcode")
        #expect(refusal(Self.frame(opcode: 9, fin: false, length: 1, masked: true), masked: true)?.closeCode == 1002, "fragmented ping")
        #expect(refusal(Self.frame(opcode: 8, length: 126, masked: true), masked: true)?.closeCode == 1002, "control frame over 125 bytes")
        #expect(refusal(Self.frame(opcode: 0, length: 1, masked: true), masked: true)?.closeCode == 1002, "continuation of nothing")
        #expect(refusal(Self.frame(opcode: 1, length: 3, masked: true), masked: true) == nil)
    }

    @Test("the gateway's close frames carry the code and reason, masked toward the service")
    func closeFrames() {
        let toClient = WebSocketFrameMeter.closeFrame(code: 1001, reason: "bye", masked: false)
        #expect(toClient == [0x88, 5, 0x03, 0xE9] + Array("bye".utf8))
        let toService = WebSocketFrameMeter.closeFrame(code: 1009, reason: "big", masked: true)
        #expect(toService.count == 2 + 4 + 5 && toService[1] == 0x80 | 5)
        let key = Array(toService[2..<6])
        let payload = toService[6...].enumerated().map { $0.element ^ key[$0.offset % 4] }
        #expect(payload == [0x03, 0xF1] + Array("big".utf8))
        var meter = WebSocketFrameMeter(masked: true, maxMessageBytes: 10)
        #expect(meter.scan(toService) == .forward(toService.count), "the meter of the direction it travels accepts it")
    }
}
