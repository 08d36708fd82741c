import NIOCore

/// Decodes RESP2 replies, refusing anything larger than its limits so that a broken or hostile
/// server cannot make the gateway buffer or allocate without bound.
struct RESPReplyDecoder: ByteToMessageDecoder {
    typealias InboundOut = RESPValue

    /// The largest reply parts accepted; the defaults are far above what the rate limiter needs.
    struct Limits: Sendable, Hashable {
        /// Longest simple string, error or integer line.
        var lineBytes = 64 * 1024
        /// Longest bulk string.
        var bulkBytes = 1024 * 1024
        /// Most elements in one array.
        var arrayElements = 4096
        /// Deepest nesting of arrays.
        var depth = 8
        /// Most bytes one whole reply may span, however it is made up.
        var replyBytes = 4 * 1024 * 1024

        init() {}
    }

    let limits: Limits

    init(limits: Limits = Limits()) {
        self.limits = limits
    }

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let value = try next(from: &buffer) else { return .needMoreData }
        context.fireChannelRead(wrapInboundOut(value))
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        try decode(context: context, buffer: &buffer)
    }

    /// Takes one complete reply off the front of `buffer`; nil (and `buffer` untouched) while the
    /// reply is still incomplete.
    func next(from buffer: inout ByteBuffer) throws(RedisError) -> RESPValue? {
        var reader = buffer
        guard let value = try parse(&reader, depth: 1) else {
            if buffer.readableBytes > limits.replyBytes {
                throw .protocolError("a reply is larger than \(limits.replyBytes) bytes")
            }
            return nil
        }
        if reader.readerIndex - buffer.readerIndex > limits.replyBytes {
            throw .protocolError("a reply is larger than \(limits.replyBytes) bytes")
        }
        buffer.moveReaderIndex(to: reader.readerIndex)
        return value
    }

    // MARK: Parsing

    private func parse(_ buffer: inout ByteBuffer, depth: Int) throws(RedisError) -> RESPValue? {
        guard let type = buffer.readInteger(as: UInt8.self) else { return nil }
        switch type {
        case UInt8(ascii: "+"):
            return try line(&buffer).map(RESPValue.simpleString)
        case UInt8(ascii: "-"):
            return try line(&buffer).map(RESPValue.error)
        case UInt8(ascii: ":"):
            guard let text = try line(&buffer) else { return nil }
            guard let value = Int64(text) else { throw .protocolError("integer reply '\(text.prefix(32))' is not a number") }
            return .integer(value)
        case UInt8(ascii: "$"):
            guard let length = try length(&buffer, kind: "bulk string") else { return nil }
            guard length >= 0 else { return .null }
            guard length <= limits.bulkBytes else {
                throw .protocolError("a bulk string of \(length) bytes is over the limit of \(limits.bulkBytes)")
            }
            guard buffer.readableBytes >= length + 2, let bytes = buffer.readSlice(length: length) else { return nil }
            guard buffer.readInteger(as: UInt16.self) == Self.crlf else { throw .protocolError("a bulk string does not end in CRLF") }
            return .bulkString(bytes)
        case UInt8(ascii: "*"):
            guard let count = try length(&buffer, kind: "array") else { return nil }
            guard count >= 0 else { return .null }
            guard count <= limits.arrayElements else {
                throw .protocolError("an array of \(count) elements is over the limit of \(limits.arrayElements)")
            }
            guard depth <= limits.depth else { throw .protocolError("arrays nested deeper than \(limits.depth)") }
            var elements: [RESPValue] = []
            elements.reserveCapacity(min(count, buffer.readableBytes / 3))
            for _ in 0..<count {
                guard let element = try parse(&buffer, depth: depth + 1) else { return nil }
                elements.append(element)
            }
            return .array(elements)
        default:
            throw .protocolError("unexpected reply type byte 0x\(String(type, radix: 16))")
        }
    }

    /// A `$` or `*` header: -1 for nil, otherwise the size that follows.
    private func length(_ buffer: inout ByteBuffer, kind: String) throws(RedisError) -> Int? {
        guard let text = try line(&buffer) else { return nil }
        guard let value = Int(text), value >= -1 else { throw .protocolError("\(kind) length '\(text.prefix(32))' is not valid") }
        return value
    }

    /// The text up to the next CRLF, which is consumed too; nil while no CRLF has arrived.
    private func line(_ buffer: inout ByteBuffer) throws(RedisError) -> String? {
        let view = buffer.readableBytesView
        guard let cr = view.firstIndex(of: UInt8(ascii: "\r")) else {
            if view.count > limits.lineBytes { throw .protocolError("a reply line is longer than \(limits.lineBytes) bytes") }
            return nil
        }
        let length = cr - view.startIndex
        guard length <= limits.lineBytes else { throw .protocolError("a reply line is longer than \(limits.lineBytes) bytes") }
        guard length + 2 <= view.count else { return nil }
        guard view[cr + 1] == UInt8(ascii: "\n") else { throw .protocolError("a reply line has CR without LF") }
        let text = buffer.readString(length: length) ?? ""
        buffer.moveReaderIndex(forwardBy: 2)
        return text
    }

    private static let crlf = UInt16(UInt8(ascii: "\r")) << 8 | UInt16(UInt8(ascii: "\n"))
}
