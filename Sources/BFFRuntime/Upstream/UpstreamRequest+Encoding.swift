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
        writeHead(for: service, framing: bodyLength.map { .length($0) } ?? .none, into: &buffer)
    }

    /// The same, with the body's framing said outright: a streamed body of known length, or chunks.
    func writeHead(for service: ServiceEndpoint, framing: UpstreamBodyFraming, into buffer: inout ByteBuffer) -> Bool {
        var keepAlive = true
        buffer.writeDirect(
            expecting: expectedHeadSize(for: service),
            { keepAlive = writeHead(for: service, framing: framing, to: &$0) },
            orElse: { keepAlive = writeHead(for: service, framing: framing, to: &$0) }
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

    private func writeHead(for service: ServiceEndpoint, framing: UpstreamBodyFraming, to buffer: inout some ByteSink) -> Bool {
        var keepAlive = true
        buffer.writeRequestHead(method: method.rawValue, target: target, to: service, framing: framing) { buffer in
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
        }
        return keepAlive
    }

    /// Runs `body` on the UTF-8 bytes of `string`, without copying a native string.
    private static func utf8(of string: String, _ body: (UnsafeRawBufferPointer) -> Bool) -> Bool {
        var string = string
        return string.withUTF8 { body(UnsafeRawBufferPointer($0)) }
    }
}

/// How a request's body is framed on the wire; the gateway always writes the framing itself.
enum UpstreamBodyFraming {
    /// No body follows; a method that is expected to carry content still says `content-length: 0`.
    case none
    /// `Content-Length`: the body's size, sent whole or streamed.
    case length(Int)
    /// `Transfer-Encoding: chunked`: a streamed body of unknown size.
    case chunked
}

extension ByteSink {
    /// A request head for `service` on any of the gateway's upstream paths: the request line (the
    /// service's base path before `target`), `host`, what `fields` writes (never `host` or
    /// framing), the framing, and the blank line. `content-length: 0` goes with a POST, PUT or
    /// PATCH without a body (RFC 9110 section 8.6).
    mutating func writeRequestHead(method: String, target: String, to service: ServiceEndpoint, framing: UpstreamBodyFraming, fields: (inout Self) -> Void) {
        write(method)
        write(byte: HTTP1Syntax.space)
        write(service.basePath)
        write(target)
        write(" HTTP/1.1\r\n")
        writeFieldLine("host", service.hostHeader)
        fields(&self)
        switch framing {
        case .none:
            if method == "POST" || method == "PUT" || method == "PATCH" { write("content-length: 0\r\n") }
        case .length(let length):
            write("content-length: ")
            write(decimal: length)
            write("\r\n")
        case .chunked:
            write("transfer-encoding: chunked\r\n")
        }
        write("\r\n")
    }
}
