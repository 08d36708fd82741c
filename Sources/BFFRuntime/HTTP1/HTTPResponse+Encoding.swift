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
        writeStaticString("HTTP/1.1 ")
        writeString(String(status.code))
        writeInteger(HTTP1Syntax.space)
        writeString(status.reasonPhrase)
        writeStaticString("\r\n")
        for field in fields {
            writeString(field.name.rawName)
            writeStaticString(": ")
            writeString(field.value)
            writeStaticString("\r\n")
        }
        writeStaticString("\r\n")
        if var body { writeBuffer(&body) }
    }
}
