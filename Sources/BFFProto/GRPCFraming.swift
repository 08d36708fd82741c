/// gRPC's length-prefixed message framing: a flag byte (1 = compressed), a 4-byte big-endian
/// length, then the message.
public enum GRPCMessage {
    /// The 5-byte prefix length.
    public static let headerSize = 5

    /// Frames one uncompressed message.
    public static func frame(_ message: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(headerSize + message.count)
        out.append(0)
        let length = UInt32(truncatingIfNeeded: message.count)
        for shift in stride(from: 24, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: length >> UInt32(shift))) }
        out.append(contentsOf: message)
        return out
    }
}

/// Why a gRPC message stream could not be split into messages.
public enum GRPCFramingError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The flag says compressed, but no `grpc-encoding` was negotiated, so there is nothing to decompress with.
    case compressedMessage
    /// The flag byte is neither 0 nor 1.
    case invalidFlag(UInt8)
    /// The length prefix exceeds the configured limit; refused before the body is buffered.
    case messageTooLarge(length: Int, limit: Int)
    /// The stream ended partway through a message.
    case truncatedMessage(bufferedBytes: Int)

    public var description: String {
        switch self {
        case .compressedMessage: return "gRPC message is compressed, but no grpc-encoding was negotiated"
        case .invalidFlag(let flag): return "gRPC message has invalid flag byte \(flag)"
        case .messageTooLarge(let length, let limit): return "gRPC message of \(length) bytes exceeds the \(limit)-byte limit"
        case .truncatedMessage(let buffered): return "stream ended inside a gRPC message (\(buffered) bytes buffered)"
        }
    }
}

/// Splits a byte stream, delivered in arbitrary chunks, into gRPC messages.
public struct GRPCMessageReader: Sendable {
    /// The largest message length accepted from a prefix.
    public let maxMessageBytes: Int
    private var buffer: [UInt8] = []
    private var readIndex = 0

    /// `maxMessageBytes` bounds the memory one message can make the reader buffer.
    public init(maxMessageBytes: Int = 4 * 1024 * 1024) {
        self.maxMessageBytes = maxMessageBytes
    }

    /// Bytes received but not yet returned as messages.
    public var bufferedByteCount: Int { buffer.count - readIndex }

    /// Adds the next chunk of the stream.
    public mutating func append(_ bytes: some Collection<UInt8>) {
        // Drop consumed bytes once they dominate, so a long stream does not grow the buffer forever.
        if readIndex > 0, readIndex >= buffer.count / 2 {
            buffer.removeFirst(readIndex)
            readIndex = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// The next complete message, or nil until more bytes arrive.
    ///
    /// A bad flag or an oversized length is reported as soon as the prefix arrives.
    public mutating func next() throws(GRPCFramingError) -> [UInt8]? {
        let available = buffer.count - readIndex
        guard available >= 1 else { return nil }
        switch buffer[readIndex] {
        case 0: break
        case 1: throw .compressedMessage
        case let flag: throw .invalidFlag(flag)
        }
        guard available >= GRPCMessage.headerSize else { return nil }
        var length = 0
        for offset in 1...4 { length = length << 8 | Int(buffer[readIndex + offset]) }
        guard length <= maxMessageBytes else { throw .messageTooLarge(length: length, limit: maxMessageBytes) }
        guard available - GRPCMessage.headerSize >= length else { return nil }
        let start = readIndex + GRPCMessage.headerSize
        readIndex = start + length
        return Array(buffer[start..<readIndex])
    }

    /// Call when the stream has ended: leftover bytes mean the last message was cut off.
    public func finish() throws(GRPCFramingError) {
        guard bufferedByteCount == 0 else { throw .truncatedMessage(bufferedBytes: bufferedByteCount) }
    }
}
