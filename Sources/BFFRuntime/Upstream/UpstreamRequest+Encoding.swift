import NIOCore
import NIOHTTP1

extension UpstreamRequest {
    /// Writes the request head as HTTP/1.1 into one buffer: the request line (the service's base
    /// path before the target), `host` for the service in place of any the request carries, the
    /// request's other headers, its ``lastField`` in place of any header of that name, then the
    /// framing, and the blank line.
    ///
    /// The framing is always ours, never a `Content-Length` or `Transfer-Encoding` of the
    /// request's own (one that promised a body nobody sends would hang the service): the body's
    /// length when one follows, `content-length: 0` for a POST, PUT or PATCH without one
    /// (RFC 9110 section 8.6), and nothing otherwise. Header values are written as they are: each
    /// is built from the spec, a template value already refused if it held control characters, or
    /// a client header the server's parser accepted.
    ///
    /// ```swift
    /// let keepAlive = request.writeHead(for: service, bodyLength: nil, into: &buffer)
    /// // GET /base/users/1 HTTP/1.1\r\nhost: users:8080\r\naccept: application/json\r\n\r\n
    /// ```
    ///
    /// - Parameter bodyLength: the size of the complete body written after the head, if any.
    /// - Returns: false when the request asks the service to close the connection after its answer.
    func writeHead(for service: ServiceEndpoint, bodyLength: Int?, into buffer: inout ByteBuffer) -> Bool {
        var keepAlive = true
        buffer.writeDirect(
            expecting: expectedHeadSize(for: service),
            { keepAlive = writeHead(for: service, bodyLength: bodyLength, to: &$0) },
            orElse: { keepAlive = writeHead(for: service, bodyLength: bodyLength, to: &$0) }
        )
        return keepAlive
    }

    /// Room for the head: every part of it, with room to spare for the framing.
    private func expectedHeadSize(for service: ServiceEndpoint) -> Int {
        var size = 96 + method.rawValue.utf8.count + service.basePath.utf8.count + target.utf8.count + service.hostHeader.utf8.count
        for (name, value) in headers { size += name.utf8.count + value.utf8.count + 4 }
        if let lastField { size += lastField.name.utf8.count + lastField.value.utf8.count + 4 }
        return size
    }

    private func writeHead(for service: ServiceEndpoint, bodyLength: Int?, to buffer: inout some ByteSink) -> Bool {
        buffer.write(method.rawValue)
        buffer.write(byte: HTTP1Syntax.space)
        buffer.write(service.basePath)
        buffer.write(target)
        buffer.write(" HTTP/1.1\r\n")
        buffer.writeFieldLine("host", service.hostHeader)
        var keepAlive = true
        for (name, value) in headers {
            let framing = Self.utf8(of: name) { name in
                HTTP1Syntax.equalsIgnoringCase(name, name.indices, "host")
                    || HTTP1Syntax.equalsIgnoringCase(name, name.indices, "content-length")
                    || HTTP1Syntax.equalsIgnoringCase(name, name.indices, "transfer-encoding")
            }
            if framing { continue }
            if let lastField, HTTP1Syntax.namesEqual(name, lastField.name) { continue }
            if Self.utf8(of: name, { HTTP1Syntax.equalsIgnoringCase($0, $0.indices, "connection") }),
                Self.utf8(of: value, { HTTP1Syntax.listContains($0, $0.indices, "close") })
            {
                keepAlive = false
            }
            buffer.writeFieldLine(name, value)
        }
        if let lastField { buffer.writeFieldLine(lastField.name, lastField.value) }
        if let length = bodyLength ?? (method.definesContent ? 0 : nil) {
            buffer.write("content-length: ")
            buffer.write(decimal: length)
            buffer.write("\r\n")
        }
        buffer.write("\r\n")
        return keepAlive
    }

    /// Runs `body` on the UTF-8 bytes of `string`, without copying a native string.
    private static func utf8(of string: String, _ body: (UnsafeRawBufferPointer) -> Bool) -> Bool {
        var string = string
        return string.withUTF8 { body(UnsafeRawBufferPointer($0)) }
    }
}

extension HTTPMethod {
    /// Whether a request with this method is expected to carry content, so it says its length even when it has none.
    fileprivate var definesContent: Bool {
        switch self {
        case .POST, .PUT, .PATCH: return true
        default: return false
        }
    }
}
