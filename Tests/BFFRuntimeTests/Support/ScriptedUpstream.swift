import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// A raw TCP upstream on 127.0.0.1 that answers each request with exact bytes, for testing how the
/// gateway's own HTTP/1.1 codec frames responses and when it reuses a connection.
///
/// An answer is written in pieces, each flushed on its own after a pause, so that a head or a
/// chunk-size line split between pieces reaches the gateway in separate reads. The stub never
/// closes a connection unless the answer says so: whether a connection is reused is the gateway's
/// decision alone, and the stub records which connection each request came on.
final class ScriptedUpstream: Sendable {
    struct Answer: Sendable {
        var pieces: [String]
        /// Close the connection once the last piece is written.
        var closeAfter = false
        /// The pause before each piece after the first.
        var gap: TimeAmount = .milliseconds(5)

        init(_ pieces: String..., closeAfter: Bool = false, gap: TimeAmount = .milliseconds(5)) {
            self.pieces = pieces
            self.closeAfter = closeAfter
            self.gap = gap
        }
    }

    /// One request as received: on which connection (numbered in accept order, from 0), its head and body.
    struct Request: Sendable {
        let connection: Int
        let head: String
        let body: String
    }

    /// Answers the `index`-th request (from 0, across all connections).
    typealias Script = @Sendable (_ index: Int, _ request: Request) -> Answer

    private struct State {
        var connections = 0
        var requests: [Request] = []
    }

    private let state = Mutex(State())
    private let script: Script
    private let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    private let channel = Mutex<(any Channel)?>(nil)
    private let boundPort = Atomic<Int>(0)

    var port: Int { boundPort.load(ordering: .relaxed) }
    var url: String { "http://127.0.0.1:\(port)" }
    /// Connections accepted so far.
    var connections: Int { state.withLock { $0.connections } }
    var requests: [Request] { state.withLock { $0.requests } }

    private init(script: @escaping Script) {
        self.script = script
    }

    static func start(_ script: @escaping Script) async throws -> ScriptedUpstream {
        let stub = ScriptedUpstream(script: script)
        let channel = try await ServerBootstrap(group: stub.group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let number = stub.state.withLock { state in
                        defer { state.connections += 1 }
                        return state.connections
                    }
                    try channel.pipeline.syncOperations.addHandler(ScriptedConnection(stub: stub, number: number))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        stub.channel.withLock { $0 = channel }
        stub.boundPort.store(channel.localAddress?.port ?? 0, ordering: .relaxed)
        return stub
    }

    /// Starts a stub, runs `body` with it, and shuts it down, whether `body` threw or not.
    @discardableResult
    static func with<T: Sendable>(_ script: @escaping Script, _ body: @Sendable (ScriptedUpstream) async throws -> T) async throws -> T {
        let stub = try await start(script)
        let result: Result<T, any Error>
        do {
            result = .success(try await body(stub))
        } catch {
            result = .failure(error)
        }
        try await stub.shutdown()
        return try result.get()
    }

    func shutdown() async throws {
        let channel = self.channel.withLock { $0 }
        try await channel?.close()
        try await group.shutdownGracefully()
    }

    fileprivate func answer(_ request: Request) -> Answer {
        let index = state.withLock { state in
            state.requests.append(request)
            return state.requests.count - 1
        }
        return script(index, request)
    }
}

/// Reads requests (head, then as many body bytes as `content-length` says) and writes the answers.
private final class ScriptedConnection: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let stub: ScriptedUpstream
    private let number: Int
    private var received = ""

    init(stub: ScriptedUpstream, number: Int) {
        self.stub = stub
        self.number = number
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        received += String(buffer: unwrapInboundIn(data))
        while let end = received.range(of: "\r\n\r\n") {
            let head = String(received[..<end.upperBound])
            let length = head.lowercased().split(separator: "\r\n")
                .first { $0.hasPrefix("content-length:") }
                .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
            let rest = received[end.upperBound...]
            guard rest.utf8.count >= length else { return }
            let bodyEnd = rest.utf8.index(rest.startIndex, offsetBy: length)
            let body = String(rest[..<bodyEnd])
            received = String(rest[bodyEnd...])
            respond(stub.answer(ScriptedUpstream.Request(connection: number, head: head, body: body)), context: context)
        }
    }

    private func respond(_ answer: ScriptedUpstream.Answer, context: ChannelHandlerContext) {
        let loop = context.eventLoop.assumeIsolated()
        for (index, piece) in answer.pieces.enumerated() {
            let last = index == answer.pieces.count - 1
            loop.scheduleTask(in: answer.gap * Int64(index)) {
                let written = context.writeAndFlush(self.wrapOutboundOut(ByteBuffer(string: piece)))
                if last && answer.closeAfter {
                    written.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
                }
            }
        }
    }
}
