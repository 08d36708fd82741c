import HTTPTypes
import NIOCore

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
        writeDirect(
            expecting: name.utf8.count + value.utf8.count + 4,
            { $0.writeFieldLine(name, value) },
            orElse: { buffer in
                buffer.writeString(name)
                buffer.writeStaticString(": ")
                buffer.writeString(value)
                buffer.writeStaticString("\r\n")
            }
        )
    }
}
