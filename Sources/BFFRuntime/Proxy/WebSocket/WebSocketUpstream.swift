import BFFSpec
import Crypto
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// The service side of a proxied WebSocket: a connection of its own (TLS for an https service),
/// the handshake request written on it, and the service's answer read back.
enum WebSocketUpstream {
    /// The service's answer to the handshake, and the connection it came on.
    struct Handshake: Sendable {
        let channel: any Channel
        let status: Int
        let headers: HTTPHeaders
        /// The reader still in the pipeline, holding whatever the service sent after its answer's head.
        let reader: HandshakeReader.Handle
    }

    /// Connects to `endpoint` on `eventLoop`, writes `head`, and reads the answer's head.
    /// - Throws: ``UpstreamError`` when the connection cannot be made or the answer is not HTTP.
    static func open(
        _ head: HTTPRequestHead,
        to endpoint: ServiceEndpoint,
        headTimeout: Duration,
        on eventLoop: any EventLoop
    ) async throws(UpstreamError) -> Handshake {
        let channel: any Channel
        do {
            channel = try await endpoint.connect(on: eventLoop) { channel in
                try channel.pipeline.syncOperations.addHandler(HandshakeReader(service: endpoint.name))
            }.get()
        } catch {
            throw .connectFailed(service: endpoint.name)
        }
        let answer = channel.eventLoop.flatSubmit { () -> EventLoopFuture<HandshakeReader.Answer> in
            guard let reader = try? channel.pipeline.syncOperations.handler(type: HandshakeReader.self) else {
                return channel.eventLoop.makeFailedFuture(UpstreamError.connectionClosed(service: endpoint.name))
            }
            var bytes = channel.allocator.buffer(capacity: 512)
            bytes.writeString("GET \(head.uri) HTTP/1.1\r\n")
            for (name, value) in head.headers { bytes.writeString("\(name): \(value)\r\n") }
            bytes.writeString("\r\n")
            channel.writeAndFlush(bytes, promise: nil)
            return reader.answer
        }
        let timeout = channel.eventLoop.scheduleTask(in: .nanoseconds(headTimeout.nanosecondsValue)) { channel.close(promise: nil) }
        defer { timeout.cancel() }
        do {
            let answer = try await answer.get()
            return Handshake(channel: channel, status: answer.status, headers: answer.headers, reader: answer.handle)
        } catch {
            channel.close(promise: nil)
            if let error = error as? UpstreamError { throw error }
            throw .timeout(service: endpoint.name, after: headTimeout)
        }
    }

    /// The `Sec-WebSocket-Accept` a server must answer `key` with (RFC 6455 §4.2.2).
    static func accept(for key: String) -> String {
        Data(Insecure.SHA1.hash(data: Data((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").utf8))).base64EncodedString()
    }
}

/// Reads the head of the service's answer to the handshake (at most 16 KiB), then keeps whatever
/// follows it (the service's first frames) until the relay takes over.
final class HandshakeReader: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    struct Answer: @unchecked Sendable {
        let status: Int
        let headers: HTTPHeaders
        let handle: Handle
    }

    /// Lets the relay take the reader out of the pipeline, with the bytes it kept; used on its event loop.
    struct Handle: @unchecked Sendable {
        fileprivate let reader: HandshakeReader

        /// Removes the reader and returns what arrived after the answer's head.
        func take(from channel: any Channel) -> ByteBuffer {
            let rest = reader.received
            if let context = reader.context { channel.pipeline.syncOperations.removeHandler(context: context, promise: nil) }
            return rest
        }
    }

    private let service: String
    private var received = ByteBuffer()
    private var answered = false
    private var context: ChannelHandlerContext?
    private var promise: EventLoopPromise<Answer>?

    var answer: EventLoopFuture<Answer> { promise!.futureResult }

    static let headLimit = 16 * 1024

    init(service: String) {
        self.service = service
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        promise = context.eventLoop.makePromise()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        promise?.fail(UpstreamError.connectionClosed(service: service))
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        received.writeBuffer(&bytes)
        guard !answered else { return }
        let view = received.readableBytesView
        guard let end = view.firstRange(of: Array("\r\n\r\n".utf8)) else {
            if received.readableBytes > Self.headLimit { fail(context: context) }
            return
        }
        let head = String(decoding: view[view.startIndex..<end.lowerBound], as: UTF8.self)
        received.moveReaderIndex(forwardBy: end.upperBound - view.startIndex)
        var lines = head.split(separator: "\r\n", omittingEmptySubsequences: false)
        let statusLine = lines.isEmpty ? [] : lines.removeFirst().split(separator: " ", maxSplits: 2)
        guard statusLine.count >= 2, statusLine[0].hasPrefix("HTTP/1."), let status = Int(statusLine[1]) else {
            fail(context: context)
            return
        }
        var headers = HTTPHeaders()
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers.add(name: String(line[..<colon]), value: line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
        answered = true
        promise?.succeed(Answer(status: status, headers: headers, handle: Handle(reader: self)))
        promise = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail(context: context)
        context.fireChannelInactive()
    }

    private func fail(context: ChannelHandlerContext) {
        promise?.fail(UpstreamError.malformedResponse(service: service))
        promise = nil
        context.close(promise: nil)
    }
}
