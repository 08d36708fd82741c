import NIOCore
import NIOHTTP1

/// Upstreams that answer while the request body is still arriving, as real services do.
///
/// - `POST /echo`: streams each body chunk straight back and stops reading whenever its socket
///   cannot take more, so it only makes progress if the gateway reads the response while uploading.
/// - `POST /reject`: answers 413 as soon as the head arrives and never reads the body.
enum DuplexUpstream {
    static func start() async throws -> LoopbackServer {
        try await LoopbackServer.start(socketBufferBytes: 64 * 1024) { channel in
            try channel.pipeline.syncOperations.addHandler(DuplexHandler())
        }
    }
}

private final class DuplexHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private var echoing = false
    private var readPending = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head) where head.uri == "/reject":
            let body = ByteBuffer(string: #"{"error":"too large"}"#)
            let response = HTTPResponseHead(version: .http1_1, status: .payloadTooLarge, headers: ["content-length": String(body.readableBytes)])
            context.write(wrapOutboundOut(.head(response)), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            context.channel.setOption(.autoRead, value: false).whenComplete { _ in }
        case .head:
            echoing = true
            let response = HTTPResponseHead(version: .http1_1, status: .ok, headers: ["transfer-encoding": "chunked"])
            context.writeAndFlush(wrapOutboundOut(.head(response)), promise: nil)
        case .body(let chunk):
            if echoing { context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(chunk))), promise: nil) }
        case .end:
            if echoing { context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil) }
            echoing = false
        }
    }

    /// Holds reads while the socket cannot take more writes: backpressure from our own output.
    func read(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            context.read()
        } else {
            readPending = true
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable && readPending {
            readPending = false
            context.read()
        }
        context.fireChannelWritabilityChanged()
    }
}
