import NIOCore
import NIOHTTP1

/// Reads the HTTP/1.1 responses of one connection from its raw bytes.
///
/// Fed each read as it comes, cut wherever the socket cut it, it tells what the bytes hold as
/// they arrive (``next(_:)``: the head, parts of the body, the end), for proxied answers that
/// stream; ``parse(_:)`` gathers those into one response, for buffered calls. Framing follows
/// RFC 9112 section 6.3: no body for the answer to a HEAD or a 204 or 304, then
/// `Transfer-Encoding: chunked`, then `Content-Length`, else the body runs until the service
/// closes the connection. 1xx interim responses are skipped.
///
/// It is strict wherever leniency would let two readers see different messages (that is where
/// response splitting starts), and fails as ``Failure/malformed``: a bare CR or LF, a folded line
/// (obs-fold), whitespace before a colon, differing or unparsable `Content-Length`s, both
/// `Content-Length` and `Transfer-Encoding`, a transfer coding other than a single `chunked`
/// (we never send `TE`, so a service may apply no other, and we could not decode it), a 101 (we
/// never ask to switch protocols), or a head or trailer section over ``maxHeadBytes``.
///
/// A part of the body is a slice of the read it came in, and the field lines are kept as bytes
/// (``ResponseFields``), so a small response costs no copy and no string.
struct HTTP1ResponseParser {
    enum Failure: Error, Equatable {
        /// Not an HTTP/1.0 or 1.1 response, or framed in a way that could be read more than one way.
        case malformed
        /// The body is, or says it will be, larger than the limit.
        case bodyTooLarge
    }

    /// A complete response, and whether its connection may carry the next request.
    struct Parsed {
        var response: UpstreamResponse
        /// The response allowed keep-alive, and no byte followed it in the read that ended it.
        var reusable: Bool
    }

    /// What the next bytes of a response held.
    enum Event {
        /// The final response's head (interim ones are skipped).
        case head(UpstreamResponseHead)
        /// A part of the body, a slice of the bytes read.
        case body(ByteBuffer)
        /// The response is complete. Bytes left after it belong to no request: a connection that
        /// received them is not reused.
        case end
    }

    /// The largest head (status line and fields) or trailer section, and the longest chunk-size line.
    static let maxHeadBytes = 64 * 1024
    /// The most reserved at once for a `Content-Length` body that arrives over several reads.
    private static let maxReservedBodyBytes = 1 << 20

    private enum State {
        /// No response expected: none was asked for, or the last one is complete.
        case idle
        /// Waiting for the blank line that ends the head; `scanned` bytes were looked at already.
        case head(scanned: Int)
        case fixedBody(remaining: Int)
        case chunkSize(scanned: Int)
        case chunkData(remaining: Int)
        /// The CRLF after a chunk's data.
        case chunkEnd
        case trailers(scanned: Int)
        case untilClose
        case complete
    }

    private var state = State.idle
    /// Bytes of earlier reads not consumed yet: the start of a head, a chunk-size line or trailers.
    private var carried: ByteBuffer?
    private var limit = 0
    private var bodyAllowed = true
    /// Body bytes told so far, against `limit`.
    private var bodyBytes = 0
    /// Whether the final response's head allowed keep-alive.
    private(set) var keepAlive = true

    /// What ``parse(_:)`` gathers: the head, and the body read so far.
    private var gatheredHead: UpstreamResponseHead?
    private var gatheredBody: ByteBuffer?

    /// Readies the parser for the response to the request just sent.
    /// - Parameters:
    ///   - limit: the largest body accepted.
    ///   - bodyAllowed: false for the answer to a HEAD request, which has no body whatever its headers say.
    mutating func expect(limit: Int, bodyAllowed: Bool) {
        self = HTTP1ResponseParser()
        self.limit = limit
        self.bodyAllowed = bodyAllowed
        state = .head(scanned: 0)
    }

    /// What the next bytes of `buffer` hold; nil once it is used up and more bytes are needed (an
    /// unfinished line is kept for the next read). Call it again while it returns an event, until
    /// ``Event/end``.
    /// - Throws: ``Failure``; the connection must not be used again.
    mutating func next(_ buffer: inout ByteBuffer) throws(Failure) -> Event? {
        if var earlier = carried.take() {
            earlier.writeImmutableBuffer(buffer)
            buffer = earlier
        }
        if let event = try advance(&buffer) { return event }
        if buffer.readableBytes > 0 {
            carried = buffer
            buffer.moveReaderIndex(to: buffer.writerIndex)
        }
        return nil
    }

    /// Whether the service closing the connection ends the response: one whose body runs until the
    /// close. False when the close cut a response short.
    mutating func closeEndsResponse() -> Bool {
        guard case .untilClose = state else { return false }
        state = .idle
        return true
    }

    /// Reads the next bytes from the connection into one response.
    /// - Returns: the response once it is complete; nil while more bytes are needed.
    /// - Throws: ``Failure``; the connection must not be used again.
    mutating func parse(_ bytes: ByteBuffer) throws(Failure) -> Parsed? {
        var buffer = bytes
        while let event = try next(&buffer) {
            switch event {
            case .head(let head):
                gatheredHead = head
            case .body(let part):
                if gatheredBody == nil {
                    // A body split over reads is gathered in one buffer, sized for it up front up
                    // to `maxReservedBodyBytes`, so a length that is declared but never sent costs little.
                    if let length = gatheredHead?.contentLength, part.readableBytes < length {
                        var body = ByteBufferAllocator().buffer(capacity: min(length, Self.maxReservedBodyBytes))
                        body.writeImmutableBuffer(part)
                        gatheredBody = body
                    } else {
                        gatheredBody = part
                    }
                } else {
                    gatheredBody!.writeImmutableBuffer(part)
                }
            case .end:
                return Parsed(response: gathered(), reusable: keepAlive && buffer.readableBytes == 0)
            }
        }
        return nil
    }

    /// The response that the service closing the connection completes: one whose body runs until
    /// the close (``parse(_:)`` never returns one, so such a connection is never reused). Nil when
    /// the close cut a response short.
    mutating func peerClosed() -> UpstreamResponse? {
        guard closeEndsResponse() else { return nil }
        return gathered()
    }

    private mutating func gathered() -> UpstreamResponse {
        let head = gatheredHead.take()!
        return UpstreamResponse(status: head.status, fields: head.fields, body: gatheredBody.take() ?? ByteBuffer())
    }

    // MARK: States

    private mutating func advance(_ buffer: inout ByteBuffer) throws(Failure) -> Event? {
        while true {
            switch state {
            case .idle:
                guard buffer.readableBytes == 0 else { throw .malformed }
                return nil
            case .head(let scanned):
                guard let end = try Self.endOfSection(in: buffer, from: scanned) else {
                    state = .head(scanned: buffer.readableBytes)
                    return nil
                }
                if let head = try readHead(buffer.readSlice(length: end)!) { return .head(head) }
            case .fixedBody(let remaining):
                if remaining == 0 {
                    state = .complete
                    continue
                }
                guard buffer.readableBytes > 0 else { return nil }
                let part = buffer.readSlice(length: min(remaining, buffer.readableBytes))!
                state = .fixedBody(remaining: remaining - part.readableBytes)
                return body(part)
            case .chunkSize(let scanned):
                guard let end = try Self.endOfLine(in: buffer, from: scanned) else {
                    state = .chunkSize(scanned: buffer.readableBytes)
                    return nil
                }
                guard let size = buffer.withUnsafeReadableBytes({ Self.chunkSize($0, 0..<(end - 2)) }) else { throw .malformed }
                buffer.moveReaderIndex(forwardBy: end)
                guard size <= limit - bodyBytes else { throw .bodyTooLarge }
                state = size == 0 ? .trailers(scanned: 0) : .chunkData(remaining: size)
            case .chunkData(let remaining):
                guard buffer.readableBytes > 0 else { return nil }
                let part = buffer.readSlice(length: min(remaining, buffer.readableBytes))!
                state = part.readableBytes == remaining ? .chunkEnd : .chunkData(remaining: remaining - part.readableBytes)
                return body(part)
            case .chunkEnd:
                guard buffer.readableBytes >= 2 else { return nil }
                guard buffer.readInteger(as: UInt16.self) == UInt16(HTTP1Syntax.cr) << 8 | UInt16(HTTP1Syntax.lf) else { throw .malformed }
                state = .chunkSize(scanned: 0)
            case .trailers(let scanned):
                guard let end = try Self.endOfSection(in: buffer, from: scanned) else {
                    state = .trailers(scanned: buffer.readableBytes)
                    return nil
                }
                // Trailers are read only to find the end of the message: nothing of them is kept.
                let valid = buffer.withUnsafeReadableBytes { HTTP1Syntax.forEachField($0, 0..<(end - 2)) { _, _ in true } }
                guard valid else { throw .malformed }
                buffer.moveReaderIndex(forwardBy: end)
                state = .complete
            case .untilClose:
                guard buffer.readableBytes > 0 else { return nil }
                guard buffer.readableBytes <= limit - bodyBytes else { throw .bodyTooLarge }
                return body(buffer.readSlice(length: buffer.readableBytes)!)
            case .complete:
                state = .idle
                return .end
            }
        }
    }

    /// Takes in a head: skips an interim response (nil), or notes how the final one's body is framed.
    private mutating func readHead(_ section: ByteBuffer) throws(Failure) -> UpstreamResponseHead? {
        guard let head = section.withUnsafeReadableBytes({ Head(parsing: $0) }) else { throw .malformed }
        if head.code < 200 {
            guard head.code != 101 else { throw .malformed }
            state = .head(scanned: 0)
            return nil
        }
        keepAlive = !head.close && (head.minorVersion == 1 || head.keepAlive)
        var contentLength: Int?
        if !bodyAllowed || head.code == 204 || head.code == 304 {
            state = .complete
        } else if head.chunked {
            guard head.contentLength == nil else { throw .malformed }
            // RFC 9112 section 6.1: chunked from an HTTP/1.0 peer is faulty framing; read it, then close.
            if head.minorVersion == 0 { keepAlive = false }
            state = .chunkSize(scanned: 0)
        } else if let length = head.contentLength {
            guard length <= limit else { throw .bodyTooLarge }
            contentLength = length
            state = .fixedBody(remaining: length)
        } else {
            state = .untilClose
        }
        return UpstreamResponseHead(
            status: HTTPResponseStatus(statusCode: head.code),
            lines: section.getSlice(at: section.readerIndex + head.fields.lowerBound, length: head.fields.count)!,
            contentLength: contentLength,
            keepAlive: keepAlive
        )
    }

    private mutating func body(_ part: ByteBuffer) -> Event {
        bodyBytes += part.readableBytes
        return .body(part)
    }

    // MARK: Grammar

    /// The length of the head or trailer section that starts `buffer`, through the blank line that
    /// ends it; nil while that line has not arrived. Bytes before `scanned` were looked at already.
    /// - Throws: `.malformed` for a line feed without a carriage return before it, or a section
    ///   over ``maxHeadBytes``.
    private static func endOfSection(in buffer: ByteBuffer, from scanned: Int) throws(Failure) -> Int? {
        let end = try buffer.withUnsafeReadableBytes { bytes throws(Failure) -> Int? in
            var next = scanned
            while let lf = HTTP1Syntax.firstIndex(of: HTTP1Syntax.lf, in: bytes, next..<bytes.count) {
                guard lf > 0, bytes[lf - 1] == HTTP1Syntax.cr else { throw .malformed }
                if lf == 1 || bytes[lf - 2] == HTTP1Syntax.lf { return lf + 1 }
                next = lf + 1
            }
            return nil
        }
        guard (end ?? buffer.readableBytes) <= maxHeadBytes else { throw .malformed }
        return end
    }

    /// The length of the line that starts `buffer`, its CRLF included; nil while it has not arrived.
    /// - Throws: `.malformed` for a line feed without a carriage return before it, or a line over ``maxHeadBytes``.
    private static func endOfLine(in buffer: ByteBuffer, from scanned: Int) throws(Failure) -> Int? {
        let end = try buffer.withUnsafeReadableBytes { bytes throws(Failure) -> Int? in
            guard let lf = HTTP1Syntax.firstIndex(of: HTTP1Syntax.lf, in: bytes, scanned..<bytes.count) else { return nil }
            guard lf > 0, bytes[lf - 1] == HTTP1Syntax.cr else { throw .malformed }
            return lf + 1
        }
        guard (end ?? buffer.readableBytes) <= maxHeadBytes else { throw .malformed }
        return end
    }

    /// The size in a chunk-size line, `1*HEXDIG [ chunk-ext ]`, or nil when it is not one. Chunk
    /// extensions are ignored, but must start with `;` and hold no control character.
    private static func chunkSize(_ bytes: UnsafeRawBufferPointer, _ line: Range<Int>) -> Int? {
        var size = 0
        var index = line.lowerBound
        while index < line.upperBound, let digit = HTTP1Syntax.hexDigit(bytes[index]) {
            let (shifted, overflow) = size.multipliedReportingOverflow(by: 16)
            guard !overflow else { return nil }
            size = shifted + digit
            index += 1
        }
        guard index > line.lowerBound else { return nil }
        while index < line.upperBound, HTTP1Syntax.isWhitespace(bytes[index]) { index += 1 }
        guard index == line.upperBound || bytes[index] == UInt8(ascii: ";") else { return nil }
        for byte in bytes[index..<line.upperBound] where !HTTP1Syntax.isValueCharacter(byte) { return nil }
        return size
    }

    /// What the parser needs from a head: version, status code, where the field lines are, and the
    /// fields that frame the body or decide keep-alive.
    private struct Head {
        var minorVersion = 1
        var code = 0
        /// The field lines, each with its CRLF, without the blank line that ends the head.
        var fields = 0..<0
        var contentLength: Int?
        var chunked = false
        var close = false
        var keepAlive = false

        /// Nil for a head that is not HTTP/1.0 or 1.1 or breaks the grammar.
        /// - Parameter bytes: the head through the blank line that ends it; each LF in it follows a CR.
        init?(parsing bytes: UnsafeRawBufferPointer) {
            guard let statusEnd = HTTP1Syntax.firstIndex(of: HTTP1Syntax.lf, in: bytes, 0..<bytes.count), readStatusLine(bytes, 0..<(statusEnd - 1)) else { return nil }
            fields = (statusEnd + 1)..<(bytes.count - 2)
            guard HTTP1Syntax.forEachField(bytes, fields, { name, value in read(name: name, value: value, in: bytes) }) else { return nil }
        }

        /// `HTTP/1.x SP 3DIGIT [ SP reason-phrase ]`, the code between 100 and 599. A missing reason
        /// phrase, and the space before it, is accepted as most clients do.
        private mutating func readStatusLine(_ bytes: UnsafeRawBufferPointer, _ line: Range<Int>) -> Bool {
            let start = line.lowerBound
            guard line.count >= 12 else { return false }
            for (offset, expected) in "HTTP/1.".utf8.enumerated() where bytes[start + offset] != expected { return false }
            switch bytes[start + 7] {
            case UInt8(ascii: "0"): minorVersion = 0
            case UInt8(ascii: "1"): minorVersion = 1
            default: return false
            }
            guard bytes[start + 8] == HTTP1Syntax.space else { return false }
            let digits = (start + 9)..<(start + 12)
            guard (UInt8(ascii: "1")...UInt8(ascii: "5")).contains(bytes[digits.lowerBound]),
                digits.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[$0]) })
            else { return false }
            code = digits.reduce(0) { $0 * 10 + Int(bytes[$1] - UInt8(ascii: "0")) }
            guard line.count > 12 else { return true }
            guard bytes[start + 12] == HTTP1Syntax.space else { return false }
            return bytes[(start + 13)..<line.upperBound].allSatisfy(HTTP1Syntax.isValueCharacter)
        }

        /// Notes a framing or keep-alive field; false when its value is not valid.
        private mutating func read(name: Range<Int>, value: Range<Int>, in bytes: UnsafeRawBufferPointer) -> Bool {
            var valid = true
            if HTTP1Syntax.equalsIgnoringCase(bytes, name, "content-length") {
                // A list of one length repeated is allowed (RFC 9110 section 8.6); two lengths never are.
                var seen = false
                HTTP1Syntax.forEachListElement(bytes, value) { element in
                    seen = true
                    guard let length = HTTP1Syntax.decimal(bytes, element), contentLength == nil || contentLength == length else {
                        valid = false
                        return false
                    }
                    contentLength = length
                    return true
                }
                return valid && seen
            }
            if HTTP1Syntax.equalsIgnoringCase(bytes, name, "transfer-encoding") {
                var seen = false
                HTTP1Syntax.forEachListElement(bytes, value) { element in
                    seen = true
                    guard !chunked, HTTP1Syntax.equalsIgnoringCase(bytes, element, "chunked") else {
                        valid = false
                        return false
                    }
                    chunked = true
                    return true
                }
                return valid && seen
            }
            if HTTP1Syntax.equalsIgnoringCase(bytes, name, "connection") {
                HTTP1Syntax.forEachListElement(bytes, value) { element in
                    if HTTP1Syntax.equalsIgnoringCase(bytes, element, "close") { close = true }
                    if HTTP1Syntax.equalsIgnoringCase(bytes, element, "keep-alive") { keepAlive = true }
                    return true
                }
            }
            return true
        }
    }
}
