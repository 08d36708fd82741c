import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

@testable import BFFRuntime

/// The streaming (proxy) connection handler's read gate across exchanges.
@Suite("Upstream: streaming connections")
struct StreamingConnectionTests {
    /// Counts the `read` events that reach the channel.
    final class ReadCounter: ChannelOutboundHandler {
        typealias OutboundIn = NIOAny
        var reads = 0
        func read(context: ChannelHandlerContext) {
            reads += 1
            context.read()
        }
    }

    final class Exchange: UpstreamExchange {
        var ended = false
        func receiveHead(_ head: UpstreamResponseHead) {}
        func receiveBody(_ buffer: ByteBuffer) {}
        func receiveEnd() { ended = true }
        func fail(_ error: UpstreamError) {}
    }

    @Test("an answer that ends in the read that paused it leaves its connection reading for the next exchange")
    func pauseEndsWithItsExchange() throws {
        let channel = EmbeddedChannel()
        let counter = ReadCounter()
        try channel.pipeline.syncOperations.addHandler(counter)
        var reused = 0
        try UpstreamConnectionHandler.install(on: channel.pipeline.syncOperations, onReusable: { _ in reused += 1 }, onClosed: { _ in })
        let connection = try channel.pipeline.syncOperations.handler(type: UpstreamConnectionHandler.self)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 80)).wait()

        let first = Exchange()
        connection.start(first, request: UpstreamRequest(target: "/big"), service: UpstreamRequestEncodingTests.service)
        // The client fell behind: the proxy paused reading, then the rest of the answer and its
        // end came in one read.
        connection.pauseReading = true
        try channel.writeInbound(ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nbody"))
        #expect(first.ended && reused == 1)

        let second = Exchange()
        connection.start(second, request: UpstreamRequest(target: "/small"), service: UpstreamRequestEncodingTests.service)
        let before = counter.reads
        channel.read()
        #expect(counter.reads == before + 1, "the next exchange's read must reach the socket")
        _ = try? channel.finish()
    }
}
