/// Follows the RFC 6455 frames in one direction of a proxied WebSocket without decoding their
/// payloads: where each frame starts, and how large each message grows over its frames.
///
/// The relay forwards bytes as they come; the meter tells it where, inside a read, a frame that
/// breaks a rule begins, so that everything before it is forwarded and the frame itself never is
/// (a header is only ever forwarded whole, so the refused frame's first byte is never sent). It
/// also says whether the stream sits between frames, the only place a close frame of the
/// gateway's own can be put without corrupting a frame in flight.
struct WebSocketFrameMeter {
    /// Why a frame is refused, with the close code each side is sent.
    enum Violation: Equatable {
        /// A message over the limit (1009).
        case messageTooBig(limit: Int)
        /// Not a frame this direction may carry: wrong masking, a reserved opcode, a fragmented or
        /// oversized control frame, a continuation with nothing to continue (1002).
        case protocolError(String)

        var closeCode: UInt16 {
            switch self {
            case .messageTooBig: 1009
            case .protocolError: 1002
            }
        }

        var reason: String {
            switch self {
            case .messageTooBig(let limit): "message larger than \(limit) bytes"
            case .protocolError(let detail): detail
            }
        }
    }

    /// Whether frames in this direction must be masked (client to server) or must not be.
    let masked: Bool
    let maxMessageBytes: Int
    /// Header bytes of the frame being read, until the header is whole.
    private var header: [UInt8] = []
    /// Payload bytes of the current frame still to pass.
    private var remainingPayload: UInt64 = 0
    /// Bytes of the message being received over its data frames so far.
    private var messageBytes: UInt64 = 0
    private var inMessage = false

    init(masked: Bool, maxMessageBytes: Int) {
        self.masked = masked
        self.maxMessageBytes = maxMessageBytes
    }

    /// Whether the bytes forwarded so far end between frames.
    var atFrameBoundary: Bool { remainingPayload == 0 }

    /// What a scan found: how many of the bytes may be forwarded now (a header cut off at the end
    /// is left out, to come again at the start of the next scan), or where a refused frame starts.
    enum Scan: Equatable {
        case forward(Int)
        case refuse(at: Int, Violation)
    }

    /// Reads `bytes`: the bytes a previous scan left out, then the next of the stream.
    mutating func scan(_ bytes: some Collection<UInt8>) -> Scan {
        var offset = 0
        var index = bytes.startIndex
        while index != bytes.endIndex {
            if remainingPayload > 0 {
                let skipped = min(UInt64(bytes.distance(from: index, to: bytes.endIndex)), remainingPayload)
                remainingPayload -= skipped
                index = bytes.index(index, offsetBy: Int(skipped))
                offset += Int(skipped)
                continue
            }
            header.append(bytes[index])
            index = bytes.index(after: index)
            offset += 1
            guard let needed = headerLength(), header.count == needed else { continue }
            let frameStart = offset - header.count
            if let violation = frame() { return .refuse(at: frameStart, violation) }
        }
        let cutOff = header.count
        header.removeAll(keepingCapacity: true)
        return .forward(offset - cutOff)
    }

    /// The whole header's length once its first two bytes (and any extended length) are known.
    private func headerLength() -> Int? {
        guard header.count >= 2 else { return nil }
        let length7 = header[1] & 0x7F
        let extended = length7 == 126 ? 2 : length7 == 127 ? 8 : 0
        return 2 + extended + (header[1] & 0x80 != 0 ? 4 : 0)
    }

    /// Takes a complete header: checks it and starts counting its payload.
    private mutating func frame() -> Violation? {
        defer { header.removeAll(keepingCapacity: true) }
        let fin = header[0] & 0x80 != 0
        let opcode = header[0] & 0x0F
        let isMasked = header[1] & 0x80 != 0
        let length7 = header[1] & 0x7F
        var length = UInt64(length7)
        if length7 == 126 {
            length = UInt64(header[2]) << 8 | UInt64(header[3])
        } else if length7 == 127 {
            length = header[2..<10].reduce(0) { $0 << 8 | UInt64($1) }
        }
        if isMasked != masked {
            return .protocolError(masked ? "an unmasked frame from the client" : "a masked frame from the server")
        }
        switch opcode {
        case 0x8, 0x9, 0xA:
            guard fin, length <= 125 else { return .protocolError("a fragmented or oversized control frame") }
        case 0x0, 0x1, 0x2:
            if opcode == 0 && !inMessage { return .protocolError("a continuation frame with no message to continue") }
            if opcode != 0 && inMessage { return .protocolError("a new message inside a fragmented one") }
            messageBytes = (opcode == 0 ? messageBytes : 0) &+ length
            if messageBytes > UInt64(maxMessageBytes) { return .messageTooBig(limit: maxMessageBytes) }
            inMessage = !fin
        default:
            return .protocolError("a frame with reserved opcode \(opcode)")
        }
        remainingPayload = length
        return nil
    }

    /// A close frame with `code` and `reason`, masked as this direction's frames must be.
    static func closeFrame(code: UInt16, reason: String, masked: Bool) -> [UInt8] {
        var payload = [UInt8(code >> 8), UInt8(code & 0xFF)] + Array(reason.utf8.prefix(123))
        var frame: [UInt8] = [0x88, UInt8(payload.count) | (masked ? 0x80 : 0)]
        if masked {
            let key = (0..<4).map { _ in UInt8.random(in: 0...255) }
            for index in payload.indices { payload[index] ^= key[index % 4] }
            frame += key
        }
        return frame + payload
    }
}
