import HTTPTypes
import NIOCore
import NIOEmbedded
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1
import Testing

@testable import BFFRuntime

@Suite("Ingress: plain GET heads decoded without the HTTP decoder")
struct SimpleRequestDecoderTests {
    /// What NIO's decoder and the HTTP/1-to-HTTPTypes conversion make of `head`, as the server pipeline runs them.
    static func throughNIO(_ head: String) throws -> HTTPRequest? {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(HTTPRequestDecoder()))
        try channel.pipeline.syncOperations.addHandler(HTTP1ToHTTPServerCodec(secure: false))
        try channel.writeInbound(ByteBuffer(string: head))
        guard case .head(let request) = try channel.readInbound(as: HTTPRequestPart.self) else { return nil }
        _ = try channel.finish()
        return request
    }

    @Test(
        "a plain GET decodes exactly as NIO's decoder and the HTTPTypes conversion decode it",
        arguments: [
            "GET /dashboard HTTP/1.1\r\nHost: 127.0.0.1:8580\r\n\r\n",
            "GET / HTTP/1.1\r\nhost: a\r\n\r\n",
            "GET /products/p1?x=1&y=%20z#frag HTTP/1.1\r\nHost: shop.example\r\nAccept: application/json\r\nX-Request-ID: r-1\r\n\r\n",
            "GET /a HTTP/1.1\r\nHost: a\r\nX-Spaces:   padded value \t \r\nX-Empty:\r\nCookie: a=1; b=2\r\nCookie: c=3\r\nIf-None-Match: W/\"x\"\r\n\r\n",
            "GET /a HTTP/1.1\r\nX-Before-Host: 1\r\nHOST: upper.example\r\nConnection: close\r\n\r\n",
            "GET /no-host HTTP/1.1\r\nAccept: */*\r\n\r\n",
        ]
    )
    func sameAsNIO(head: String) throws {
        let decoded = try #require(SimpleRequestDecoder.decode(ByteBuffer(string: head)))
        let expected = try #require(try Self.throughNIO(head))
        #expect(decoded == expected)
        #expect(decoded.headerFields.map(\.name.rawName) == expected.headerFields.map(\.name.rawName))
    }

    @Test(
        "anything else is left to the HTTP decoder",
        arguments: [
            "POST /a HTTP/1.1\r\nHost: a\r\n\r\n",
            "get /a HTTP/1.1\r\nHost: a\r\n\r\n",
            "HEAD /a HTTP/1.1\r\nHost: a\r\n\r\n",
            "GET /a HTTP/1.0\r\nHost: a\r\n\r\n",
            "GET http://a.example/a HTTP/1.1\r\nHost: a\r\n\r\n",
            "GET * HTTP/1.1\r\nHost: a\r\n\r\n",
            "GET /a HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
            "GET /a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
            "GET /a HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n",
            "GET /a HTTP/1.1\r\nHost: a\r\nX-Name: caf\u{e9}\r\n\r\n",
            "GET /a HTTP/1.1\r\nHost: a\r\nno colon here\r\n\r\n",
            "GET /a HTTP/1.1\r\nHost: a\r\n",
        ]
    )
    func declined(head: String) {
        #expect(SimpleRequestDecoder.decode(ByteBuffer(string: head)) == nil)
    }
}
