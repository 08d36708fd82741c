import HTTPTypes
import NIOCore

/// Decodes the commonest request head there is, a body-less HTTP/1.1 GET in origin form, straight
/// into an `HTTPRequest`, as NIO's decoder and the HTTP/1-to-HTTPTypes conversion together would.
///
/// ``RequestHeadGuard`` has already vetted the whole head (request line, field syntax, framing),
/// so this only needs to split it. It declines (returns nil) anything it does not decode exactly
/// the same way, and the head then goes through the HTTP decoder as usual: another method or
/// version, an absolute-form or asterisk target, `Content-Length`, `Transfer-Encoding`,
/// `Upgrade`, a byte outside ASCII, or a line it does not expect.
enum SimpleRequestDecoder {
    static func decode(_ head: ByteBuffer) -> HTTPRequest? {
        head.withUnsafeReadableBytes { bytes -> HTTPRequest? in
            guard bytes.count > 16, !bytes.contains(where: { $0 >= 0x80 }),
                let lineEnd = HTTP1Syntax.firstIndex(of: HTTP1Syntax.lf, in: bytes, 0..<bytes.count), lineEnd > 14, bytes[lineEnd - 1] == HTTP1Syntax.cr,
                HTTP1Syntax.equalsExactly(bytes, 0..<4, "GET "),
                HTTP1Syntax.equalsExactly(bytes, (lineEnd - 10)..<(lineEnd - 1), " HTTP/1.1"),
                bytes[4] == UInt8(ascii: "/")
            else { return nil }
            let target = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[4..<(lineEnd - 10)]), as: UTF8.self)
            // The head ends with the empty line: CRLF CRLF, the last field line's and its own.
            guard bytes.count >= lineEnd + 3, bytes[bytes.count - 2] == HTTP1Syntax.cr, bytes[bytes.count - 1] == HTTP1Syntax.lf else { return nil }
            var fields = HTTPFields()
            var authority: String?
            let decodedAll = HTTP1Syntax.forEachField(bytes, (lineEnd + 1)..<(bytes.count - 2)) { name, value in
                let nameBytes = UnsafeRawBufferPointer(rebasing: bytes[name])
                if HTTP1Syntax.equalsIgnoringCase(nameBytes, nameBytes.indices, "content-length")
                    || HTTP1Syntax.equalsIgnoringCase(nameBytes, nameBytes.indices, "transfer-encoding")
                    || HTTP1Syntax.equalsIgnoringCase(nameBytes, nameBytes.indices, "upgrade")
                {
                    return false
                }
                let valueString = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[value]), as: UTF8.self)
                if authority == nil, HTTP1Syntax.equalsIgnoringCase(nameBytes, nameBytes.indices, "host") {
                    authority = valueString
                    return true
                }
                guard let fieldName = HTTPField.Name(String(decoding: nameBytes, as: UTF8.self)) else { return false }
                fields.append(HTTPField(name: fieldName, value: valueString))
                return true
            }
            guard decodedAll else { return nil }
            return HTTPRequest(method: .get, scheme: "http", authority: authority, path: target, headerFields: fields)
        }
    }
}
