import BFFSpec
import NIOCore
import NIOTLS

/// On a plaintext listener that takes HTTP/2 with prior knowledge (h2c) as well as HTTP/1.1: reads
/// a connection's first bytes and tells the two apart by the HTTP/2 client connection preface
/// (RFC 9113 §3.4).
///
/// It reports what it found as the negotiated protocol (`h2` or `http/1.1`), the event ALPN
/// raises after a TLS handshake, so one negotiation handler sets up plaintext and TLS connections
/// alike; then it hands on the bytes it read and leaves the pipeline. A connection that sends
/// nothing within the timeout is closed, as an idle HTTP/1.1 connection would be.
final class PrefaceSniffer: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    static let preface: [UInt8] = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

    private let timeout: TimeAmount
    private var received: ByteBuffer?
    private var deadline: Scheduled<Void>?
    private var decided = false

    init(timeout: Duration) {
        self.timeout = .nanoseconds(timeout.nanosecondsValue)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let channel = context.channel
        deadline = context.eventLoop.scheduleTask(in: timeout) { channel.close(promise: nil) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !decided else {
            context.fireChannelRead(data)
            return
        }
        var bytes = unwrapInboundIn(data)
        if received == nil {
            received = bytes
        } else {
            received!.writeBuffer(&bytes)
        }
        let seen = received!.readableBytesView
        let compared = min(seen.count, Self.preface.count)
        let isPrefix = seen.prefix(compared).elementsEqual(Self.preface.prefix(compared))
        if !isPrefix {
            decide("http/1.1", context: context)
        } else if compared == Self.preface.count {
            decide("h2", context: context)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        deadline?.cancel()
        context.fireChannelInactive()
    }

    private func decide(_ protocolName: String, context: ChannelHandlerContext) {
        decided = true
        deadline?.cancel()
        context.fireUserInboundEventTriggered(TLSUserEvent.handshakeCompleted(negotiatedProtocol: protocolName))
        if let received {
            self.received = nil
            context.fireChannelRead(wrapInboundOut(received))
            context.fireChannelReadComplete()
        }
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}
