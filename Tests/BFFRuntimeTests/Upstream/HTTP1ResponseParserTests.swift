import NIOCore
import NIOHTTP1
import Testing

@testable import BFFRuntime

/// The buffered codec's response parser, fed each wire text whole, byte by byte, in pieces of odd
/// sizes and split at every point (sampled for long texts): every feeding must come to the same.
@Suite("Upstream: HTTP/1.1 response parser")
struct HTTP1ResponseParserTests {
    /// What feeding a wire text to a fresh parser came to.
    enum Outcome: Equatable, CustomStringConvertible {
        /// `fields` as `name: value` in arrival order.
        case response(status: UInt, fields: [String], body: String, reusable: Bool)
        /// Still waiting for bytes when the text ran out.
        case waiting
        /// The peer closed before the response was complete.
        case cutShort
        case failed(HTTP1ResponseParser.Failure)

        var description: String {
            switch self {
            case .response(let status, let fields, let body, let reusable): return "\(status) \(fields) \(body.debugDescription) reusable: \(reusable)"
            case .waiting: return "waiting"
            case .cutShort: return "cut short"
            case .failed(let failure): return "failed: \(failure)"
            }
        }

        var reusable: Bool? {
            if case .response(_, _, _, let reusable) = self { return reusable }
            return nil
        }
    }

    /// Ways to cut `count` bytes into reads: whole, byte by byte, odd sizes, and two reads split at
    /// every point (64 points spread over a long text).
    static func feedings(of count: Int) -> [[Int]] {
        var feedings = [[count], Array(repeating: 1, count: count)]
        var odd: [Int] = []
        var left = count
        for size in [2, 3, 5, 7, 11, 13].cycled() {
            guard left > 0 else { break }
            odd.append(min(size, left))
            left -= min(size, left)
        }
        feedings.append(odd)
        let points = count <= 600 ? Array(1..<max(1, count)) : stride(from: 1, to: count, by: max(1, count / 64)).map { $0 }
        feedings += points.map { [$0, count - $0] }
        return feedings
    }

    /// Feeds `pieces` as separate reads. Bytes left after the response, in its last read or a later
    /// one, make it not reusable: the connection handler closes a connection that receives them.
    static func outcome(_ wire: [UInt8], cuts: [Int], limit: Int, bodyAllowed: Bool, closeAtEnd: Bool) -> Outcome {
        var parser = HTTP1ResponseParser()
        parser.expect(limit: limit, bodyAllowed: bodyAllowed)
        var offset = 0
        for cut in cuts {
            let piece = ByteBuffer(bytes: wire[offset..<(offset + cut)])
            offset += cut
            do {
                if let parsed = try parser.parse(piece) {
                    return describe(parsed.response, reusable: parsed.reusable && offset == wire.count)
                }
            } catch {
                return .failed(error)
            }
        }
        guard closeAtEnd else { return .waiting }
        return parser.peerClosed().map { describe($0, reusable: false) } ?? .cutShort
    }

    static func describe(_ response: UpstreamResponse, reusable: Bool) -> Outcome {
        .response(
            status: response.status.code,
            fields: response.headers.map { "\($0.name): \($0.value)" },
            body: String(buffer: response.body),
            reusable: reusable
        )
    }

    /// The outcome of `wire`, after checking that every feeding of it agrees.
    static func parse(_ wire: String, limit: Int = 1 << 20, bodyAllowed: Bool = true, closeAtEnd: Bool = false) -> Outcome {
        let bytes = Array(wire.utf8)
        let whole = outcome(bytes, cuts: [bytes.count], limit: limit, bodyAllowed: bodyAllowed, closeAtEnd: closeAtEnd)
        for cuts in feedings(of: bytes.count) {
            let fed = outcome(bytes, cuts: cuts, limit: limit, bodyAllowed: bodyAllowed, closeAtEnd: closeAtEnd)
            guard fed == whole else {
                Issue.record("fed in reads of \(cuts.prefix(8))...: \(fed), whole: \(whole)")
                return fed
            }
        }
        return whole
    }

    // MARK: Framing

    @Test("a Content-Length body, with field values trimmed of surrounding whitespace and an empty value kept")
    func contentLength() {
        let wire = "HTTP/1.1 200 OK\r\nContent-Type: \t application/json \r\nX-Empty:\r\nContent-Length: 11\r\n\r\n{\"ok\":true}"
        #expect(Self.parse(wire) == .response(status: 200, fields: ["Content-Type: application/json", "X-Empty: ", "Content-Length: 11"], body: #"{"ok":true}"#, reusable: true))
        #expect(Self.parse("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n") == .response(status: 200, fields: ["Content-Length: 0"], body: "", reusable: true))
        #expect(Self.parse("HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n{\"ok\"") == .waiting)
    }

    @Test("a Content-Length body that arrives in one read is a slice of that read, not a copy")
    func bodyIsASlice() throws {
        let read = ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
        var parser = HTTP1ResponseParser()
        parser.expect(limit: 100, bodyAllowed: true)
        let parsed = try #require(try parser.parse(read))
        func storage(_ buffer: ByteBuffer) -> UnsafeMutableRawPointer {
            buffer.withUnsafeReadableBytesWithStorageManagement { _, storage in storage.toOpaque() }
        }
        #expect(String(buffer: parsed.response.body) == "hello")
        #expect(storage(parsed.response.body) == storage(read))
    }

    @Test("a chunked body, with chunk extensions ignored and trailers read and dropped")
    func chunked() {
        let wire = "HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n5;name=value\r\nhello\r\nA ; ext ; other=\"x\"\r\n, world!!!\r\n0\r\nX-Checksum: abc\r\nX-Other: d\r\n\r\n"
        #expect(Self.parse(wire) == .response(status: 200, fields: ["Transfer-Encoding: Chunked"], body: "hello, world!!!", reusable: true))
        let bare = "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"
        #expect(Self.parse(bare) == .response(status: 200, fields: ["transfer-encoding: chunked"], body: "ok", reusable: true))
        #expect(Self.parse("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n") == .waiting, "the blank line after the last chunk ends it")
    }

    @Test("chunk framing that is not CRLF-exact or not hexadecimal is malformed")
    func badChunks() {
        let head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        for body in ["zz\r\nok\r\n0\r\n\r\n", "2\r\nokXX0\r\n\r\n", "2\nok\r\n0\r\n\r\n", "2 x\r\nok\r\n0\r\n\r\n", "fffffffffffffffff\r\n", "2\r\nok\r\n0\r\nbad trailer\r\n\r\n"] {
            #expect(Self.parse(head + body) == .failed(.malformed), "\(body.debugDescription)")
        }
    }

    @Test("1xx interim responses are skipped, their fields with them; 101 is malformed")
    func interim() {
        let wire = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
        #expect(Self.parse(wire) == .response(status: 200, fields: ["Content-Length: 2"], body: "ok", reusable: true))
        #expect(Self.parse("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n") == .failed(.malformed))
    }

    @Test("204 and 304 have no body whatever their headers say")
    func noContent() {
        #expect(Self.parse("HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n") == .response(status: 204, fields: ["Content-Length: 10"], body: "", reusable: true))
        #expect(Self.parse("HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n") == .response(status: 304, fields: ["Transfer-Encoding: chunked"], body: "", reusable: true))
    }

    @Test("the answer to a HEAD request has no body whatever its Content-Length says")
    func head() {
        let wire = "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n"
        #expect(Self.parse(wire, bodyAllowed: false) == .response(status: 200, fields: ["Content-Length: 1234"], body: "", reusable: true))
        #expect(Self.parse(wire, bodyAllowed: true) == .waiting)
    }

    @Test("without framing headers the body runs until the close, and the connection is not reused")
    func closeDelimited() {
        let wire = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the very end"
        #expect(Self.parse(wire) == .waiting)
        #expect(Self.parse(wire, closeAtEnd: true) == .response(status: 200, fields: ["Content-Type: text/plain"], body: "until the very end", reusable: false))
        #expect(Self.parse("HTTP/1.1 200 OK\r\n\r\n", closeAtEnd: true) == .response(status: 200, fields: [], body: "", reusable: false))
    }

    @Test("a close before the response is complete cuts it short")
    func cutShort() {
        #expect(Self.parse("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", closeAtEnd: true) == .cutShort)
        #expect(Self.parse("HTTP/1.1 200 OK\r\nContent-Len", closeAtEnd: true) == .cutShort)
        #expect(Self.parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel", closeAtEnd: true) == .cutShort)
    }

    // MARK: Keep-alive

    @Test("HTTP/1.0 keeps the connection only with Connection: keep-alive, and never after a chunked body")
    func http10() {
        #expect(Self.parse("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok").reusable == false)
        #expect(Self.parse("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 2\r\n\r\nok").reusable == true)
        #expect(Self.parse("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n").reusable == false)
    }

    @Test("Connection: close, alone or in a list, in any case, ends the connection")
    func connectionClose() {
        #expect(Self.parse("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok").reusable == true)
        #expect(Self.parse("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok").reusable == false)
        #expect(Self.parse("HTTP/1.1 200 OK\r\nConnection: keep-alive, CLOSE\r\nContent-Length: 2\r\n\r\nok").reusable == false)
    }

    @Test("bytes after the end of a response, in the same read, make its connection not reusable")
    func leftover() {
        let next = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nstale"
        #expect(Self.parse("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok" + next) == .response(status: 200, fields: ["Content-Length: 2"], body: "ok", reusable: false))
        #expect(Self.parse("HTTP/1.1 204 No Content\r\n\r\n" + next) == .response(status: 204, fields: [], body: "", reusable: false))
        #expect(Self.parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n\r\n").reusable == false)
    }

    // MARK: Malformed

    @Test("Content-Length that conflicts, repeats differently or is not a plain number is malformed; repeats of one value are fine")
    func contentLengthRules() {
        for lengths in [["2", "3"], ["2, 3"], ["abc"], ["-1"], ["+2"], ["2 2"], [""], ["0x2"], ["99999999999999999999999"]] {
            let fields = lengths.map { "Content-Length: \($0)\r\n" }.joined()
            #expect(Self.parse("HTTP/1.1 200 OK\r\n\(fields)\r\nok") == .failed(.malformed), "\(lengths)")
        }
        #expect(Self.parse("HTTP/1.1 200 OK\r\nContent-Length: 2\r\ncontent-length: 2, 2\r\n\r\nok").reusable == true)
        #expect(Self.parse("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n") == .failed(.malformed))
    }

    @Test("a transfer coding other than one chunked is malformed: we never send TE")
    func transferCodings() {
        for codings in ["gzip", "gzip, chunked", "chunked, chunked", "chunked;q=1", "", "identity"] {
            #expect(Self.parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: \(codings)\r\n\r\n2\r\nok\r\n0\r\n\r\n") == .failed(.malformed), "\(codings)")
        }
        #expect(Self.parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n") == .failed(.malformed))
    }

    @Test("a status line that is not HTTP/1.0 or 1.1 with a three-digit code from 100 to 599 is malformed")
    func badStatusLine() {
        let lines = [
            "HTTP/2 200 OK", "HTTP/1.2 200 OK", "http/1.1 200 OK", "HTTP/1.1 20 OK", "HTTP/1.1 2000 OK", "HTTP/1.1 600 Odd",
            "HTTP/1.1 099 Low", "HTTP/1.1  200 OK", "HTTP/1.1 200\tOK", "ICY 200 OK", "HTTP/1.1 200 O\u{1}K", "",
        ]
        for line in lines {
            #expect(Self.parse("\(line)\r\nContent-Length: 0\r\n\r\n") == .failed(.malformed), "\(line.debugDescription)")
        }
        #expect(Self.parse("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n").reusable == true, "a missing reason phrase is fine")
        #expect(Self.parse("HTTP/1.1 599 \r\nContent-Length: 0\r\n\r\n").reusable == true, "so is an empty one")
    }

    @Test("obs-fold, bare LF or CR, whitespace before the colon, an empty name or control characters are malformed")
    func badFields() {
        let fields = [
            "X-A: a\r\n b\r\n", "X-A: a\r\n\tb\r\n", " X-A: a\r\n", "X-A: a\nX-B: b\r\n", "X-A: a\rb\r\n", "X-A : a\r\n", ": a\r\n",
            "X-A a\r\n", "X-A: a\u{0}b\r\n", "X-A: a\u{7F}\r\n", "X(A): a\r\n",
        ]
        for field in fields {
            #expect(Self.parse("HTTP/1.1 200 OK\r\n\(field)Content-Length: 0\r\n\r\n") == .failed(.malformed), "\(field.debugDescription)")
        }
        #expect(Self.parse("HTTP/1.1 200 OK\nContent-Length: 0\n\n") == .failed(.malformed), "LF-only line ends")
        #expect(Self.parse("HTTP/1.1 200 OK\r\nX-A: caf\u{E9}\r\nContent-Length: 0\r\n\r\n").reusable == true, "obs-text in a value is fine")
    }

    @Test("a head over 64 KiB is malformed, as soon as it is over, without waiting for its end")
    func headLimit() {
        let filler = String(repeating: "a", count: 62 * 1024)
        #expect(Self.parse("HTTP/1.1 200 OK\r\nX-Big: \(filler)\r\nContent-Length: 0\r\n\r\n").reusable == true)
        let over = String(repeating: "a", count: 64 * 1024)
        #expect(Self.parse("HTTP/1.1 200 OK\r\nX-Big: \(over)\r\nContent-Length: 0\r\n\r\n") == .failed(.malformed))
        #expect(Self.parse("HTTP/1.1 200 OK\r\nX-Big: \(over)") == .failed(.malformed))
        #expect(Self.parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-Big: \(over)") == .failed(.malformed), "trailers too")
    }

    // MARK: Body limit

    @Test("a body over the limit fails as soon as it is known to be: a Content-Length at once, chunked and close-delimited bodies when they pass it")
    func bodyLimit() {
        #expect(Self.parse("HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n", limit: 10) == .failed(.bodyTooLarge))
        #expect(Self.parse("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789", limit: 10).reusable == true)

        let chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nhello \r\n"
        #expect(Self.parse(chunked + "5\r\n", limit: 10) == .failed(.bodyTooLarge), "the size line is enough")
        #expect(Self.parse(chunked + "4\r\nworl\r\n0\r\n\r\n", limit: 10).reusable == true)

        let untilClose = "HTTP/1.1 200 OK\r\n\r\n"
        #expect(Self.parse(untilClose + "0123456789!", limit: 10) == .failed(.bodyTooLarge), "no need to wait for the close")
        #expect(Self.parse(untilClose + "0123456789", limit: 10, closeAtEnd: true) == .response(status: 200, fields: [], body: "0123456789", reusable: false))
    }
}

// MARK: Streaming

extension HTTP1ResponseParserTests {
    /// What the events of one feeding told, in order: `head 200`, `body` parts joined, `end`.
    static func streamed(_ wire: [UInt8], cuts: [Int], bodyAllowed: Bool = true, closeAtEnd: Bool = false) -> [String] {
        var parser = HTTP1ResponseParser()
        parser.expect(limit: .max, bodyAllowed: bodyAllowed)
        var told: [String] = []
        var body = ""
        var offset = 0
        for cut in cuts {
            var piece = ByteBuffer(bytes: wire[offset..<(offset + cut)])
            offset += cut
            do {
                while let event = try parser.next(&piece) {
                    switch event {
                    case .head(let head): told.append("head \(head.status.code) \(head.fields.headers.map(\.name))")
                    case .body(let part): body += String(buffer: part)
                    case .end:
                        told += ["body \(body)", "end"]
                        return told
                    }
                }
            } catch {
                return told + ["failed \(error)"]
            }
        }
        if closeAtEnd, parser.closeEndsResponse() { return told + ["body \(body)", "end"] }
        return told + ["body \(body)", "waiting"]
    }

    @Test("streamed, every feeding tells the same head, the same body and one end, as the gathered parse")
    func streamedFeedings() {
        let wires = [
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\r\nhello world",
            "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n6\r\n world\r\n0\r\nX-T: 1\r\n\r\n",
            "HTTP/1.1 204 No Content\r\nContent-Length: 9\r\n\r\n",
        ]
        for wire in wires {
            let bytes = Array(wire.utf8)
            let whole = Self.streamed(bytes, cuts: [bytes.count])
            #expect(whole.last == "end", "\(whole)")
            for cuts in Self.feedings(of: bytes.count) {
                #expect(Self.streamed(bytes, cuts: cuts) == whole, "cuts \(cuts.prefix(8))")
            }
        }
        let untilClose = Array("HTTP/1.1 200 OK\r\n\r\nuntil the end".utf8)
        #expect(Self.streamed(untilClose, cuts: [10, untilClose.count - 10], closeAtEnd: true) == ["head 200 []", "body until the end", "end"])
        #expect(Self.streamed(Array("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n".utf8), cuts: [38], bodyAllowed: false) == ["head 200 [\"Content-Length\"]", "body ", "end"])
    }

    @Test("streamed, the head and each part are told as they arrive, parts as slices of their read")
    func streamedAsTheyArrive() throws {
        var parser = HTTP1ResponseParser()
        parser.expect(limit: .max, bodyAllowed: true)
        var first = ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello")
        guard case .head(let head) = try parser.next(&first) else { throw TestFailure("no head") }
        #expect(head.contentLength == 10 && head.keepAlive)
        guard case .body(let part) = try parser.next(&first) else { throw TestFailure("no part") }
        #expect(String(buffer: part) == "hello")
        func storage(_ buffer: ByteBuffer) -> UnsafeMutableRawPointer {
            buffer.withUnsafeReadableBytesWithStorageManagement { _, storage in storage.toOpaque() }
        }
        #expect(storage(part) == storage(first), "a part is a slice of the read, not a copy")
        let none = try parser.next(&first)
        #expect(none == nil, "the rest has not arrived")
        var second = ByteBuffer(string: "world")
        guard case .body(let rest) = try parser.next(&second), case .end = try parser.next(&second) else { throw TestFailure("no end") }
        #expect(String(buffer: rest) == "world" && second.readableBytes == 0)
    }
}

/// A test's own failure, for `throw`.
private struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension Array {
    /// The elements, repeated without end.
    fileprivate func cycled() -> some Sequence<Element> {
        sequence(state: 0) { index in
            defer { index = (index + 1) % count }
            return self[index]
        }
    }
}
