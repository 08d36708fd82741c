import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// What a stub route answers: a status, a body, and how long to wait before answering.
struct StubResponse: Sendable {
    var status: HTTPResponseStatus
    var body: String
    var delay: TimeAmount
    var contentType: String
    /// Extra response headers.
    var headers: [(String, String)]

    init(_ status: HTTPResponseStatus = .ok, _ body: String, delay: TimeAmount = .zero, contentType: String = "application/json", headers: [(String, String)] = []) {
        self.status = status
        self.body = body
        self.delay = delay
        self.contentType = contentType
        self.headers = headers
    }
}

/// One request as the stub saw it, with when it arrived and when (if ever) it was answered.
struct RecordedRequest: Sendable {
    let method: HTTPMethod
    /// The request target exactly as sent: path and query, still percent-encoded.
    let uri: String
    let headers: HTTPHeaders
    let receivedAt: NIODeadline
    var respondedAt: NIODeadline?
    /// Set when the caller closed the connection while the delayed answer was still pending.
    var cancelledAt: NIODeadline?

    /// The target without its query.
    var path: Substring { uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)[0] }
}

/// A real HTTP/1.1 upstream on 127.0.0.1 with an ephemeral port, for driving the gateway in tests.
///
/// Routes are registered per exact path (`/users/1`) or per prefix (`/users/*`); unknown paths
/// answer 404. Delays are scheduled on the event loop, never slept. Every request is recorded, and a
/// connection the caller closes while a delayed answer is pending counts as a cancellation, so tests
/// can prove the gateway abandoned the call. Paths under `/echo/` stream the request body back, chunked.
///
/// The echo keeps reading while its answer queues up instead of applying backpressure: the gateway's
/// proxy sends the whole request body before it reads the response, so an echo that stopped reading
/// when its socket filled would stall both sides.
final class StubUpstream: Sendable {
    typealias Responder = @Sendable (RecordedRequest) -> StubResponse

    private struct State {
        var routes: [String: Responder] = [:]
        var requests: [RecordedRequest] = []
    }

    private let state = Mutex(State())
    private let group: MultiThreadedEventLoopGroup
    private let channel: Mutex<(any Channel)?> = Mutex(nil)
    private let boundPort = Atomic<Int>(0)

    var port: Int { boundPort.load(ordering: .relaxed) }
    /// The base URL to put in a spec's `services:`.
    var url: String { "http://127.0.0.1:\(port)" }

    private init(group: MultiThreadedEventLoopGroup) {
        self.group = group
    }

    /// Starts a stub listening on 127.0.0.1 with an ephemeral port.
    static func start() async throws -> StubUpstream {
        let stub = StubUpstream(group: MultiThreadedEventLoopGroup(numberOfThreads: 1))
        let channel = try await ServerBootstrap(group: stub.group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(StubConnectionHandler(stub: stub))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        stub.channel.withLock { $0 = channel }
        stub.boundPort.store(channel.localAddress?.port ?? 0, ordering: .relaxed)
        return stub
    }

    /// Answers `path` (exact, or a prefix when it ends in `*`) with a fixed response.
    func on(_ path: String, _ status: HTTPResponseStatus = .ok, body: String, delay: TimeAmount = .zero, contentType: String = "application/json") {
        let response = StubResponse(status, body, delay: delay, contentType: contentType)
        on(path) { _ in response }
    }

    /// Answers `path` (exact, or a prefix when it ends in `*`) with whatever `respond` returns.
    func on(_ path: String, respond: @escaping Responder) {
        state.withLock { $0.routes[path] = respond }
    }

    /// Every request received so far, in arrival order.
    var requests: [RecordedRequest] { state.withLock { $0.requests } }

    /// Requests whose path (without query) is `path`.
    func requests(to path: String) -> [RecordedRequest] {
        requests.filter { $0.path == path }
    }

    /// How many delayed answers were abandoned by the caller closing the connection.
    var cancelledCount: Int { requests.filter { $0.cancelledAt != nil }.count }

    /// Polls until `condition` holds or `timeout` passes; returns whether it held.
    func eventually(within timeout: Duration = .seconds(2), _ condition: (StubUpstream) -> Bool) async -> Bool {
        let clock = ContinuousClock()
        let end = clock.now + timeout
        while clock.now < end {
            if condition(self) { return true }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return condition(self)
    }

    func shutdown() async throws {
        let channel = self.channel.withLock { $0 }
        try await channel?.close()
        try await group.shutdownGracefully()
    }

    // MARK: Connection handler support

    fileprivate func record(_ head: HTTPRequestHead) -> Int {
        state.withLock {
            $0.requests.append(RecordedRequest(method: head.method, uri: head.uri, headers: head.headers, receivedAt: .now()))
            return $0.requests.count - 1
        }
    }

    fileprivate func markResponded(_ index: Int) {
        state.withLock { $0.requests[index].respondedAt = .now() }
    }

    fileprivate func markCancelled(_ index: Int) {
        state.withLock { $0.requests[index].cancelledAt = .now() }
    }

    fileprivate func responder(for path: Substring) -> Responder? {
        state.withLock { state in
            if let exact = state.routes[String(path)] { return exact }
            let prefixes = state.routes.filter { $0.key.hasSuffix("*") && path.hasPrefix($0.key.dropLast()) }
            return prefixes.max { $0.key.count < $1.key.count }?.value
        }
    }

    fileprivate func request(at index: Int) -> RecordedRequest {
        state.withLock { $0.requests[index] }
    }
}

/// Serves one stub connection; confined to its channel's event loop.
private final class StubConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let stub: StubUpstream
    private var current: (index: Int, head: HTTPRequestHead)?
    private var echoing = false
    private var pending: (index: Int, task: Scheduled<Void>)?

    init(stub: StubUpstream) {
        self.stub = stub
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            let index = stub.record(head)
            current = (index, head)
            echoing = head.uri.hasPrefix("/echo/")
            if echoing {
                var headers = HTTPHeaders([("transfer-encoding", "chunked"), ("content-type", "application/octet-stream")])
                if !head.isKeepAlive { headers.add(name: "connection", value: "close") }
                context.writeAndFlush(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
            }
        case .body(let buffer):
            if echoing {
                context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
            }
        case .end:
            guard let (index, head) = current else { return }
            current = nil
            if echoing {
                echoing = false
                stub.markResponded(index)
                finish(context: context, keepAlive: head.isKeepAlive)
                return
            }
            let request = stub.request(at: index)
            let response = stub.responder(for: request.path)?(request) ?? StubResponse(.notFound, #"{"error":"no stub route"}"#)
            if response.delay > .zero {
                let loop = context.eventLoop.assumeIsolated()
                let task = loop.scheduleTask(in: response.delay) { [self] in
                    pending = nil
                    respond(response, head: head, index: index, context: context)
                }
                pending = (index, task)
            } else {
                respond(response, head: head, index: index, context: context)
            }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let pending {
            pending.task.cancel()
            stub.markCancelled(pending.index)
            self.pending = nil
        }
        context.fireChannelInactive()
    }

    private func respond(_ response: StubResponse, head: HTTPRequestHead, index: Int, context: ChannelHandlerContext) {
        let body = ByteBuffer(string: response.body)
        var headers = HTTPHeaders([("content-type", response.contentType), ("content-length", String(body.readableBytes))])
        if !head.isKeepAlive { headers.add(name: "connection", value: "close") }
        headers.add(contentsOf: response.headers)
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: response.status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        stub.markResponded(index)
        finish(context: context, keepAlive: head.isKeepAlive)
    }

    private func finish(context: ChannelHandlerContext, keepAlive: Bool) {
        let written = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive {
            written.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        }
    }
}
