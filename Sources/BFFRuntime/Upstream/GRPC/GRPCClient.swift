import BFFProto
import BFFSpec
import NIOCore
import NIOHPACK
import NIOHTTP1
import NIOHTTP2
import NIOPosix
import NIOSSL
import Synchronization

/// Unary gRPC calls to services over HTTP/2: one connection per service instance and event loop,
/// carrying the stream of every call made on that loop (HTTP/2 multiplexes them), opened on first
/// use and again after it closes.
///
/// A call sends its message with the deadline it has left as `grpc-timeout`, and ends with the
/// service's status: a reply with a message, or a status without one. The deadline passing, the
/// calling task being cancelled, or the connection failing ends it with the matching
/// ``UpstreamError`` and resets its stream; the connection goes on serving the other calls.
final class GRPCClient: Sendable {
    /// How a call ended at the service.
    struct Reply: Sendable, Equatable {
        let status: GRPCStatus
        /// `grpc-message`, percent-decoded; empty when the service sent none.
        let message: String
        /// The reply message; nil when the service sent none (any status but OK).
        let payload: [UInt8]?
    }

    private struct Key: Hashable {
        let loop: ObjectIdentifier
        let host: String
        let port: Int
    }

    fileprivate struct Connection: @unchecked Sendable {
        let channel: any Channel
        /// Used on `channel`'s event loop only.
        let streams: NIOHTTP2Handler.StreamMultiplexer
        /// When the service last sent anything on it.
        let activity: ConnectionActivity
    }

    private let connections = Mutex<[Key: EventLoopFuture<Connection>]>([:])

    init() {}

    /// Calls `path` (`/pkg.Service/Method`) on `endpoint` with `message`, on `loop`.
    /// - Parameters:
    ///   - metadata: request headers for the service (lowercased names), such as `x-request-id`.
    ///   - maxReplyBytes: the largest reply message accepted; a larger one fails the call.
    func unary(
        _ path: String,
        message: [UInt8],
        metadata: [(String, String)],
        to endpoint: ServiceEndpoint,
        deadline: NIODeadline,
        maxReplyBytes: Int,
        on loop: any EventLoop
    ) async throws(UpstreamError) -> Reply {
        let entered = NIODeadline.now()
        let reply = ReplyOnce(loop.makePromise(of: Reply.self))
        // The deadline covers the whole call: waiting for the connection (a connect in progress, a
        // preface not yet answered) and opening the stream count, not only the exchange on it.
        let whole = Duration.nanoseconds(max(0, (deadline - entered).nanoseconds))
        let timer = loop.scheduleTask(deadline: deadline) {
            reply.complete(.failure(UpstreamError.timeout(service: endpoint.name, after: whole)))
        }
        reply.result.whenComplete { _ in timer.cancel() }
        let stream = loop.makePromise(of: (any Channel).self)
        let sent = SentOn()
        self.connection(to: endpoint, on: loop).hop(to: loop).whenComplete { opened in
            guard case .success(let connection) = opened else {
                reply.complete(.failure(UpstreamError.connectFailed(service: endpoint.name)))
                stream.fail(ChannelError.ioOnClosedChannel)
                return
            }
            let started = NIODeadline.now()
            sent.record(connection, at: started)
            let budget = Duration.nanoseconds(max(0, (deadline - started).nanoseconds))
            var headers: HPACKHeaders = [
                ":method": "POST", ":scheme": endpoint.isTLS ? "https" : "http", ":path": path, ":authority": endpoint.hostHeader,
                "content-type": "application/grpc", "te": "trailers", "grpc-timeout": GRPCTimeout.header(for: budget),
                "user-agent": "swift-bff",
            ]
            for (name, value) in metadata { headers.add(name: name, value: value) }
            let head = headers
            let framed = GRPCMessage.frame(message)
            connection.streams.createStreamChannel(promise: stream) { channel in
                channel.eventLoop.makeCompletedFuture {
                    let call = GRPCUnaryCall(
                        service: endpoint.name, headers: head, message: framed,
                        deadline: deadline, budget: budget, maxReplyBytes: maxReplyBytes, reply: reply
                    )
                    try channel.pipeline.syncOperations.addHandler(call)
                }
            }
        }
        stream.futureResult.whenFailure { _ in reply.complete(.failure(UpstreamError.connectionClosed(service: endpoint.name))) }
        do {
            return try await withTaskCancellationHandler {
                try await reply.result.get()
            } onCancel: {
                reply.complete(.failure(UpstreamError.cancelled(service: endpoint.name)))
                stream.futureResult.whenSuccess { $0.close(promise: nil) }
            }
        } catch let error as UpstreamError {
            // A call whose stream timed out while the service sent nothing at all on the connection
            // (no answer to any other stream, no frame): the connection is taken as dead and closed,
            // so the next call opens a new one instead of waiting on it too.
            if case .timeout = error, let (connection, started) = sent.value, connection.activity.lastRead < started {
                connection.channel.close(promise: nil)
            }
            // A deadline that passed before the stream was open leaves the stream, once it opens, with
            // nothing to do.
            stream.futureResult.whenSuccess { $0.close(promise: nil) }
            throw error
        } catch {
            throw .connectionClosed(service: endpoint.name)
        }
    }

    /// A call of the fan-out: sends `call`'s message to its method and gives the reply back as a
    /// service's JSON answer would come, so it is shaped, spliced and degraded like any other.
    ///
    /// OK is a 200 with the reply message in the proto3 JSON mapping; DEADLINE_EXCEEDED is a timeout;
    /// any other status is the HTTP status grpc-gateway gives it (UNAVAILABLE a 503, which the
    /// service's retry rules retry), with no body. A reply that does not decode as the method's
    /// reply message is a malformed response.
    func send(_ call: GRPCRequest, headers: HTTPHeaders, to endpoint: ServiceEndpoint, deadline: NIODeadline, on loop: any EventLoop) async throws(UpstreamError) -> UpstreamResponse {
        let metadata = headers.compactMap { name, value -> (String, String)? in
            let lowercased = name.lowercased()
            return Self.reservedHeaders.contains(lowercased) ? nil : (lowercased, value)
        }
        let reply = try await unary(call.method.path, message: call.message, metadata: metadata, to: endpoint, deadline: deadline, maxReplyBytes: endpoint.maxBodyBytes, on: loop)
        switch reply.status {
        case .ok:
            let json: JSONValue
            do {
                json = try ProtoJSON.decode(reply.payload ?? [], as: call.method.output, pool: call.method.pool)
            } catch {
                throw .malformedResponse(service: endpoint.name)
            }
            var bytes: [UInt8] = []
            json.write(to: &bytes)
            return UpstreamResponse(status: .ok, headers: ["content-type": "application/json"], body: ByteBuffer(bytes: bytes))
        case .deadlineExceeded:
            throw .timeout(service: endpoint.name, after: .nanoseconds(max(0, (deadline - .now()).nanoseconds)))
        default:
            return UpstreamResponse(status: HTTPResponseStatus(statusCode: reply.status.httpStatus), headers: ["grpc-status": String(reply.status.rawValue)], body: ByteBuffer())
        }
    }

    /// Request headers the gRPC request sets itself, or that mean nothing on HTTP/2.
    private static let reservedHeaders: Set<String> = ["host", "content-type", "content-length", "te", "grpc-timeout", "user-agent", "connection", "accept"]

    /// Closes every connection.
    func shutdown() async {
        let open = connections.withLock { connections in
            defer { connections.removeAll() }
            return Array(connections.values)
        }
        for connection in open {
            if let connection = try? await connection.get() { try? await connection.channel.close() }
        }
    }

    /// The connection to `endpoint` on `loop`: the open one, or a new one.
    private func connection(to endpoint: ServiceEndpoint, on loop: any EventLoop) -> EventLoopFuture<Connection> {
        let key = Key(loop: ObjectIdentifier(loop), host: endpoint.host, port: endpoint.port)
        let (connection, isNew) = connections.withLock { connections in
            if let existing = connections[key] { return (existing, false) }
            let connection = Self.connect(to: endpoint, on: loop)
            connections[key] = connection
            return (connection, true)
        }
        guard isNew else { return connection }
        // A connection that failed or closed is forgotten, so the next call opens a new one.
        let forget: @Sendable () -> Void = { [weak self] in
            self?.connections.withLock { connections in
                if connections[key] === connection { connections[key] = nil }
            }
        }
        connection.whenComplete { result in
            if let channel = try? result.get().channel {
                channel.closeFuture.whenComplete { _ in forget() }
            } else {
                forget()
            }
        }
        return connection
    }

    private static func connect(to endpoint: ServiceEndpoint, on loop: any EventLoop) -> EventLoopFuture<Connection> {
        endpoint.connect(on: loop, alpn: ["h2"]).flatMap { channel in
            let activity = ConnectionActivity()
            return channel.configureHTTP2Pipeline(
                mode: .client, connectionConfiguration: .init(), streamConfiguration: .init(),
                inboundStreamInitializer: { stream in stream.close() }
            )
            .flatMapThrowing { streams in
                // First in the pipeline, before TLS and HTTP/2: any bytes at all count as life.
                try channel.pipeline.syncOperations.addHandler(activity.stamper, position: .first)
                return Connection(channel: channel, streams: streams, activity: activity)
            }
        }
    }
}

/// When a connection last received anything: what tells a silent (dead or wedged) connection from a
/// slow call.
final class ConnectionActivity: Sendable {
    private let lastReadNanoseconds = Atomic<Int64>(NIODeadline.now().uptimeNanoseconds.toInt64)

    var lastRead: NIODeadline { .uptimeNanoseconds(UInt64(lastReadNanoseconds.load(ordering: .relaxed))) }

    var stamper: Stamper { Stamper(activity: self) }

    final class Stamper: ChannelInboundHandler, RemovableChannelHandler {
        typealias InboundIn = ByteBuffer
        typealias InboundOut = ByteBuffer
        let activity: ConnectionActivity

        init(activity: ConnectionActivity) {
            self.activity = activity
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            activity.lastReadNanoseconds.store(NIODeadline.now().uptimeNanoseconds.toInt64, ordering: .relaxed)
            context.fireChannelRead(data)
        }
    }
}

private extension UInt64 {
    var toInt64: Int64 { Int64(truncatingIfNeeded: self) }
}

/// The connection a call's stream went out on, and when; nil while the call still waits for one.
private final class SentOn: Sendable {
    private let sent = Mutex<(GRPCClient.Connection, NIODeadline)?>(nil)

    func record(_ connection: GRPCClient.Connection, at started: NIODeadline) {
        sent.withLock { $0 = (connection, started) }
    }

    var value: (GRPCClient.Connection, NIODeadline)? { sent.withLock { $0 } }
}

/// A call's outcome, settled by whichever comes first: the answer, the deadline, a cancellation or
/// the stream's end.
private final class ReplyOnce: Sendable {
    private let promise: EventLoopPromise<GRPCClient.Reply>
    private let settled = Atomic(false)

    init(_ promise: EventLoopPromise<GRPCClient.Reply>) {
        self.promise = promise
    }

    var result: EventLoopFuture<GRPCClient.Reply> { promise.futureResult }

    func complete(_ outcome: Result<GRPCClient.Reply, any Error>) {
        guard settled.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged else { return }
        promise.completeWith(outcome)
    }
}

/// One unary call on its HTTP/2 stream: writes the request head and the framed message, reads the
/// response head, the reply message and the trailers (or a trailers-only answer), and completes
/// `reply`; the deadline resets the stream.
private final class GRPCUnaryCall: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTP2Frame.FramePayload
    typealias OutboundIn = HTTP2Frame.FramePayload
    typealias OutboundOut = HTTP2Frame.FramePayload

    private let service: String
    private let headers: HPACKHeaders
    private let message: [UInt8]
    private let deadline: NIODeadline
    private let budget: Duration
    private let reply: ReplyOnce
    private var reader: GRPCMessageReader
    private var sawHead = false
    private var payload: [UInt8]?
    private var timer: Scheduled<Void>?
    private var sent = false

    init(
        service: String, headers: HPACKHeaders, message: [UInt8], deadline: NIODeadline, budget: Duration,
        maxReplyBytes: Int, reply: ReplyOnce
    ) {
        self.service = service
        self.headers = headers
        self.message = message
        self.deadline = deadline
        self.budget = budget
        self.reply = reply
        reader = GRPCMessageReader(maxMessageBytes: maxReplyBytes)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let channel = context.channel
        let reply = self.reply, service = self.service, budget = self.budget
        timer = context.eventLoop.scheduleTask(deadline: deadline) {
            reply.complete(.failure(UpstreamError.timeout(service: service, after: budget)))
            channel.close(promise: nil)
        }
        if context.channel.isActive { send(context: context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
    }

    func channelActive(context: ChannelHandlerContext) {
        send(context: context)
        context.fireChannelActive()
    }

    private func send(context: ChannelHandlerContext) {
        guard !sent else { return }
        sent = true
        context.write(wrapOutboundOut(.headers(.init(headers: headers))), promise: nil)
        let body = context.channel.allocator.buffer(bytes: message)
        context.writeAndFlush(wrapOutboundOut(.data(.init(data: .byteBuffer(body), endStream: true))), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .headers(let frame):
            if !sawHead {
                sawHead = true
                guard frame.headers.first(name: ":status") == "200" else {
                    finish(Self.status(forHTTP: frame.headers.first(name: ":status")), message: "HTTP status \(frame.headers.first(name: ":status") ?? "none")", context: context)
                    return
                }
                // A trailers-only answer: the status comes with the head.
                if frame.headers.first(name: "grpc-status") != nil || frame.endStream { trailers(frame.headers, context: context) }
            } else {
                trailers(frame.headers, context: context)
            }
        case .data(let frame):
            guard case .byteBuffer(let bytes) = frame.data else { return }
            reader.append(bytes.readableBytesView)
            do {
                while let message = try reader.next() {
                    guard payload == nil else {
                        fail(.malformedResponse(service: service), context: context)
                        return
                    }
                    payload = message
                }
            } catch {
                fail(.malformedResponse(service: service), context: context)
            }
        default:
            break
        }
    }

    private func trailers(_ trailers: HPACKHeaders, context: ChannelHandlerContext) {
        let status = trailers.first(name: "grpc-status").flatMap(GRPCStatus.init(grpcStatus:)) ?? .unknown
        finish(status, message: trailers.first(name: "grpc-message").map(GRPCStatus.message(fromHeader:)) ?? "", context: context)
    }

    private func finish(_ status: GRPCStatus, message: String, context: ChannelHandlerContext) {
        timer?.cancel()
        reply.complete(.success(GRPCClient.Reply(status: status, message: message, payload: status == .ok ? payload : nil)))
        context.close(promise: nil)
    }

    private func fail(_ error: UpstreamError, context: ChannelHandlerContext) {
        timer?.cancel()
        reply.complete(.failure(error))
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        reply.complete(.failure(UpstreamError.connectionClosed(service: service)))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(.connectionClosed(service: service), context: context)
    }

    /// The status a non-200 HTTP answer stands for (gRPC's HTTP-to-status mapping).
    private static func status(forHTTP code: String?) -> GRPCStatus {
        switch code {
        case "400": .internal
        case "401": .unauthenticated
        case "403": .permissionDenied
        case "404": .unimplemented
        case "429", "502", "503", "504": .unavailable
        default: .unknown
        }
    }
}

extension GRPCStatus {
    /// The HTTP status grpc-gateway answers this status with, for `_meta` and the retry rules.
    var httpStatus: Int {
        switch self {
        case .ok: 200
        case .cancelled: 499
        case .invalidArgument, .failedPrecondition, .outOfRange: 400
        case .unauthenticated: 401
        case .permissionDenied: 403
        case .notFound: 404
        case .alreadyExists, .aborted: 409
        case .resourceExhausted: 429
        case .unimplemented: 501
        case .unavailable: 503
        case .deadlineExceeded: 504
        case .unknown, .internal, .dataLoss: 500
        }
    }
}
