import NIOCore

/// Where the encoders of heads and `_meta` write: a `ByteBuffer`, or a ``RawByteWriter`` over
/// its writable bytes.
///
/// Each `ByteBuffer` write checks uniqueness, exclusivity and capacity; an answer is a hundred
/// small writes. ``ByteBuffer/writeDirect(expecting:_:orElse:)`` runs an encoder once over the
/// raw bytes instead, and, should it not fit, again with the buffer's own writes. The encoders
/// are generic over this protocol, so both runs write the same bytes.
protocol ByteSink {
    mutating func write(_ string: String)
    mutating func write(_ string: StaticString)
    mutating func write(_ bytes: [UInt8])
    mutating func write(byte: UInt8)
    mutating func write(_ buffer: ByteBuffer)
    mutating func writeFieldLine(_ name: String, _ value: String)
}

extension ByteSink {
    /// A number in decimal.
    mutating func write(decimal value: Int) {
        write(String(value))
    }

    /// `name: value` and its CRLF; the caller vouches that both are legal. (`ByteBuffer` has its
    /// own, in one write.)
    mutating func writeFieldLine(_ name: String, _ value: String) {
        write(name)
        write(byte: UInt8(ascii: ":"))
        write(byte: HTTP1Syntax.space)
        write(value)
        write("\r\n")
    }
}

extension ByteBuffer: ByteSink {
    mutating func write(_ string: String) { writeString(string) }
    mutating func write(_ string: StaticString) { writeStaticString(string) }
    mutating func write(_ bytes: [UInt8]) { writeBytes(bytes) }
    mutating func write(byte: UInt8) { writeInteger(byte) }
    mutating func write(_ buffer: ByteBuffer) { writeImmutableBuffer(buffer) }

    /// Runs `direct` over at least `expected` writable bytes of this buffer, without a check per
    /// write; when what it writes does not fit, nothing of it is kept and `orElse` writes the
    /// same through the buffer's own writes. Both must write the same bytes.
    mutating func writeDirect(expecting expected: Int, _ direct: (inout RawByteWriter) -> Void, orElse fallback: (inout ByteBuffer) -> Void) {
        var fitted = false
        writeWithUnsafeMutableBytes(minimumWritableBytes: expected) { bytes in
            var writer = RawByteWriter(bytes)
            direct(&writer)
            fitted = !writer.overflowed
            return fitted ? writer.count : 0
        }
        if !fitted { fallback(&self) }
    }
}

/// Writes into raw bytes with one bounds check per write; once a write would not fit, it stops
/// writing and says so (``overflowed``), so it can never write past them.
struct RawByteWriter: ByteSink {
    private let bytes: UnsafeMutableRawBufferPointer
    private(set) var count = 0
    private(set) var overflowed = false

    init(_ bytes: UnsafeMutableRawBufferPointer) {
        self.bytes = bytes
    }

    private mutating func copy(_ source: UnsafeRawBufferPointer) {
        guard !overflowed, source.count <= bytes.count - count else {
            overflowed = true
            return
        }
        if let from = source.baseAddress, source.count > 0 {
            (bytes.baseAddress! + count).copyMemory(from: from, byteCount: source.count)
        }
        count += source.count
    }

    mutating func write(_ string: String) {
        var string = string
        string.withUTF8 { copy(UnsafeRawBufferPointer($0)) }
    }

    mutating func write(_ string: StaticString) {
        copy(UnsafeRawBufferPointer(start: string.utf8Start, count: string.utf8CodeUnitCount))
    }

    mutating func write(_ source: [UInt8]) {
        source.withUnsafeBytes { copy($0) }
    }

    mutating func write(byte: UInt8) {
        guard !overflowed, count < bytes.count else {
            overflowed = true
            return
        }
        bytes[count] = byte
        count += 1
    }

    mutating func write(_ buffer: ByteBuffer) {
        buffer.withUnsafeReadableBytes { copy($0) }
    }
}
