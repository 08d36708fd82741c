import Logging
import NIOCore
import NIOHPACK
import NIOHTTP2
import NIOPosix
import ServiceLifecycle

/// The inventory's gRPC API, `inventory.v1.Inventory` (bff-specs/protos/inventory.proto), over HTTP/2
/// without TLS (prior knowledge, as gRPC clients dial `http://` services).
///
/// It serves the same stock as the JSON inventory service and shares its demo switch: `POST
/// /_demo/mode` on the JSON service's port makes both slow or down (down answers `UNAVAILABLE`).
struct InventoryGRPCServer: Service {
    let host: String
    let port: Int
    let demoSwitch: DemoSwitch
    let logger: Logger

    func run() async throws {
        let demoSwitch = self.demoSwitch
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.configureHTTP2Pipeline(
                    mode: .server, connectionConfiguration: .init(), streamConfiguration: .init(),
                    inboundStreamInitializer: { stream in
                        stream.eventLoop.makeCompletedFuture {
                            try stream.pipeline.syncOperations.addHandler(InventoryGRPCStream(demoSwitch: demoSwitch))
                        }
                    }
                )
                .map { _ in }
            }
            .bind(host: host, port: port)
            .get()
        logger.debug("gRPC inventory.v1.Inventory listening", metadata: ["address": "\(host):\(port)"])
        try? await gracefulShutdown()
        try await server.close()
    }
}

/// One gRPC call on its HTTP/2 stream: reads the request head and its single framed message, and
/// answers `GetStock` with a ``StockLevel`` or a gRPC status in a trailers-only answer.
final class InventoryGRPCStream: ChannelInboundHandler {
    typealias InboundIn = HTTP2Frame.FramePayload
    typealias OutboundOut = HTTP2Frame.FramePayload

    static let getStock = "/inventory.v1.Inventory/GetStock"
    /// A request message bigger than this is refused with RESOURCE_EXHAUSTED.
    static let maxRequestBytes = 64 * 1024

    private let demoSwitch: DemoSwitch
    private var path: String?
    private var contentType: String?
    private var body: [UInt8] = []
    private var answered = false

    init(demoSwitch: DemoSwitch) {
        self.demoSwitch = demoSwitch
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !answered else { return }
        switch unwrapInboundIn(data) {
        case .headers(let frame):
            if path == nil {
                path = frame.headers.first(name: ":path") ?? ""
                contentType = frame.headers.first(name: "content-type")
            }
            if frame.endStream { requestEnded(context: context) }
        case .data(let frame):
            if case .byteBuffer(let buffer) = frame.data { body += buffer.readableBytesView }
            if body.count > Self.maxRequestBytes + 5 {
                answer(status: 8, message: "request message over \(Self.maxRequestBytes) bytes", context: context)
            } else if frame.endStream {
                requestEnded(context: context)
            }
        default:
            break
        }
    }

    private func requestEnded(context: ChannelHandlerContext) {
        guard contentType?.hasPrefix("application/grpc") == true else {
            answer(status: 3, message: "content-type must be application/grpc", context: context)
            return
        }
        guard path == Self.getStock else {
            answer(status: 12, message: "method \(path ?? "") is not served here; this is inventory.v1.Inventory", context: context)
            return
        }
        // One message: a 0 compression flag, a 4-byte big-endian length, the message.
        guard body.count >= 5, body[0] == 0, Int(body[1]) << 24 | Int(body[2]) << 16 | Int(body[3]) << 8 | Int(body[4]) == body.count - 5 else {
            answer(status: 13, message: "the request is not one uncompressed gRPC message", context: context)
            return
        }
        guard let request = try? InventoryMessages.decodeGetStockRequest(Array(body[5...])) else {
            answer(status: 13, message: "the request is not a GetStockRequest", context: context)
            return
        }
        let settings = demoSwitch.countRequest()
        if settings.mode == .down {
            answer(status: 14, message: "service unavailable", context: context)
            return
        }
        var delay = SimulatedLatency.duration(forPath: Self.getStock + "/" + request.productID)
        if settings.mode == .slow { delay += .milliseconds(settings.slowDelayMilliseconds) }
        let (seconds, attoseconds) = delay.components
        context.eventLoop.assumeIsolated().scheduleTask(in: .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)) {
            self.reply(to: request, context: context)
        }
    }

    private func reply(to request: InventoryMessages.GetStockRequest, context: ChannelHandlerContext) {
        guard !request.productID.isEmpty else {
            answer(status: 3, message: "product_id is empty", context: context)
            return
        }
        guard let level = DemoSeed.stockByProduct[request.productID] else {
            answer(status: 5, message: "product '\(request.productID)' is not known", context: context)
            return
        }
        let message = InventoryMessages.encodeStockLevel(level)
        var frame = context.channel.allocator.buffer(capacity: message.count + 5)
        frame.writeInteger(UInt8(0))
        frame.writeInteger(UInt32(message.count))
        frame.writeBytes(message)
        answered = true
        context.write(wrapOutboundOut(.headers(.init(headers: [":status": "200", "content-type": "application/grpc"]))), promise: nil)
        context.write(wrapOutboundOut(.data(.init(data: .byteBuffer(frame)))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.headers(.init(headers: ["grpc-status": "0"], endStream: true))), promise: nil)
    }


    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    /// A trailers-only answer: the HTTP head, the status and its message in one HEADERS frame that
    /// ends the stream.
    private func answer(status: Int, message: String, context: ChannelHandlerContext) {
        guard !answered else { return }
        answered = true
        let headers: HPACKHeaders = [
            ":status": "200", "content-type": "application/grpc",
            "grpc-status": String(status), "grpc-message": Self.percentEncoded(message),
        ]
        context.writeAndFlush(wrapOutboundOut(.headers(.init(headers: headers, endStream: true))), promise: nil)
    }

    /// `grpc-message` is percent-encoded UTF-8: printable ASCII other than `%` as is.
    private static func percentEncoded(_ text: String) -> String {
        var encoded = ""
        for byte in text.utf8 {
            if (0x20...0x7e).contains(byte) && byte != UInt8(ascii: "%") {
                encoded.unicodeScalars.append(UnicodeScalar(byte))
            } else {
                encoded += "%" + (byte < 16 ? "0" : "") + String(byte, radix: 16, uppercase: true)
            }
        }
        return encoded
    }
}
