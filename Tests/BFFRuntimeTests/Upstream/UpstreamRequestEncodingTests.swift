import BFFSpec
import NIOCore
import NIOHTTP1
import Testing

@testable import BFFRuntime

@Suite("Upstream: request heads written by the buffered codec")
struct UpstreamRequestEncodingTests {
    static let service = ServiceEndpoint(
        ServiceSpec(name: "users", url: UpstreamURL("http://users.internal:8080/base")!, location: SourceLocation(file: "test.yaml", line: 1))
    )

    static func written(_ request: UpstreamRequest, bodyLength: Int? = nil) -> (head: String, keepAlive: Bool) {
        var buffer = ByteBuffer()
        let keepAlive = request.writeHead(for: service, bodyLength: bodyLength, into: &buffer)
        return (String(buffer: buffer), keepAlive)
    }

    @Test("the request line carries the base path; host is the service's, the request's own framing headers are dropped, the rest kept in order")
    func head() {
        let request = UpstreamRequest(
            target: "/users/1?fields=a%20b",
            headers: [
                "Host": "client.example", "accept": "application/json", "Content-Length": "5", "transfer-encoding": "chunked", "x-request-id": "r-1",
            ]
        )
        let (head, keepAlive) = Self.written(request)
        #expect(head == "GET /base/users/1?fields=a%20b HTTP/1.1\r\nhost: users.internal:8080\r\naccept: application/json\r\nx-request-id: r-1\r\n\r\n")
        #expect(keepAlive)
    }

    @Test("a body is framed by its length; a POST without one says content-length: 0, a GET says nothing")
    func framing() {
        #expect(Self.written(UpstreamRequest(method: .POST, target: "/p"), bodyLength: 5).head == "POST /base/p HTTP/1.1\r\nhost: users.internal:8080\r\ncontent-length: 5\r\n\r\n")
        #expect(Self.written(UpstreamRequest(method: .POST, target: "/p")).head == "POST /base/p HTTP/1.1\r\nhost: users.internal:8080\r\ncontent-length: 0\r\n\r\n")
        #expect(Self.written(UpstreamRequest(method: .HEAD, target: "/p")).head == "HEAD /base/p HTTP/1.1\r\nhost: users.internal:8080\r\n\r\n")
    }

    @Test("a streamed body says its framing, chunked or by length, in place of any the request carries")
    func streamedFraming() {
        let request = UpstreamRequest(method: .PUT, target: "/p", headers: ["Transfer-Encoding": "chunked", "content-length": "9"])
        var chunked = ByteBuffer()
        _ = request.writeHead(for: Self.service, framing: .chunked, into: &chunked)
        #expect(String(buffer: chunked) == "PUT /base/p HTTP/1.1\r\nhost: users.internal:8080\r\ntransfer-encoding: chunked\r\n\r\n")
        var sized = ByteBuffer()
        _ = request.writeHead(for: Self.service, framing: .length(1_048_576), into: &sized)
        #expect(String(buffer: sized) == "PUT /base/p HTTP/1.1\r\nhost: users.internal:8080\r\ncontent-length: 1048576\r\n\r\n")
    }

    @Test("the last field is written after the headers, before the framing, in place of any header of its name in any case")
    func lastField() {
        var request = UpstreamRequest(method: .POST, target: "/p", headers: ["X-Request-Deadline-Ms": "900", "accept": "*/*", "x-request-deadline-ms": "800"])
        request.lastField = ("X-Request-Deadline-Ms", "250")
        #expect(
            Self.written(request).head
                == "POST /base/p HTTP/1.1\r\nhost: users.internal:8080\r\naccept: */*\r\nX-Request-Deadline-Ms: 250\r\ncontent-length: 0\r\n\r\n"
        )
        request.lastField = ("x-other", "1")
        #expect(Self.written(request).head.contains("X-Request-Deadline-Ms: 900\r\naccept: */*\r\nx-request-deadline-ms: 800\r\nx-other: 1\r\n"))
    }

    @Test("field names compare ignoring ASCII case only")
    func namesEqual() {
        #expect(HTTP1Syntax.namesEqual("X-Request-Deadline-Ms", "x-request-deadline-ms"))
        #expect(!HTTP1Syntax.namesEqual("x-a", "x-b"))
        #expect(!HTTP1Syntax.namesEqual("x-a", "x-ab"))
        // '[' and '{' differ only in the bit that case flips in letters; they are not the same name.
        #expect(!HTTP1Syntax.namesEqual("x[", "x{"))
    }

    @Test("Connection: close in the request means the connection is not kept; other Connection values keep it")
    func connectionClose() {
        #expect(Self.written(UpstreamRequest(target: "/", headers: ["Connection": "Close"])).keepAlive == false)
        #expect(Self.written(UpstreamRequest(target: "/", headers: ["connection": "te, close"])).keepAlive == false)
        #expect(Self.written(UpstreamRequest(target: "/", headers: ["connection": "keep-alive"])).keepAlive == true)
        #expect(Self.written(UpstreamRequest(target: "/", headers: ["x-note": "close"])).keepAlive == true)
    }
}
