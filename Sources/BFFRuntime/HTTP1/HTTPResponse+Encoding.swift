import HTTPTypes
import NIOCore

extension ByteBuffer {
    /// Writes a whole HTTP/1.1 response, head then body, as NIO's response encoder would write it:
    /// the status line with the status's reason phrase, each field as `name: value`, an empty line.
    ///
    /// For answers written straight to the socket (``FastAggregationHandler``). `fields` already
    /// hold the framing: `HTTPFields` only ever holds legal names and values, so nothing written
    /// here can start a field or a line of its own.
    mutating func writeHTTP1Response(status: HTTPResponse.Status, fields: HTTPFields, body: ByteBuffer?) {
        writeHTTP1StatusLine(status)
        for field in fields { writeFieldLine(field.name.rawName, field.value) }
        writeStaticString("\r\n")
        if var body { writeBuffer(&body) }
    }
}

extension ByteSink {
    /// Writes `HTTP/1.1 <code> <reason phrase>` and its CRLF, as NIO's response encoder does.
    mutating func writeHTTP1StatusLine(_ status: HTTPResponse.Status) {
        write("HTTP/1.1 ")
        write(decimal: status.code)
        write(byte: HTTP1Syntax.space)
        write(status.reasonPhrase)
        write("\r\n")
    }
}

extension ByteBuffer {
    /// Writes the field line `name: value` and its CRLF in one write (one bounds and exclusivity
    /// check instead of four); the caller vouches that both are legal.
    mutating func writeFieldLine(_ name: String, _ value: String) {
        var name = name
        var value = value
        name.withUTF8 { name in
            value.withUTF8 { value in
                _ = writeWithUnsafeMutableBytes(minimumWritableBytes: name.count + value.count + 4) { output in
                    let base = output.baseAddress!
                    if name.count > 0 { base.copyMemory(from: name.baseAddress!, byteCount: name.count) }
                    var offset = name.count
                    base.storeBytes(of: UInt8(ascii: ":"), toByteOffset: offset, as: UInt8.self)
                    base.storeBytes(of: HTTP1Syntax.space, toByteOffset: offset + 1, as: UInt8.self)
                    offset += 2
                    if value.count > 0 { (base + offset).copyMemory(from: value.baseAddress!, byteCount: value.count) }
                    offset += value.count
                    base.storeBytes(of: HTTP1Syntax.cr, toByteOffset: offset, as: UInt8.self)
                    base.storeBytes(of: HTTP1Syntax.lf, toByteOffset: offset + 1, as: UInt8.self)
                    return offset + 2
                }
            }
        }
    }
}
