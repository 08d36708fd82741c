import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// An upstream that reads each request head, counts it, and drops the connection without
/// answering, like a service that crashed mid-request.
final class ResettingUpstream: Sendable {
    let server: LoopbackServer
    private let seen: Counter

    var port: Int { server.port }
    /// Requests whose head arrived, by method.
    func requests(_ method: HTTPMethod) -> Int { seen.value(method) }

    final class Counter: Sendable {
        private let counts = Mutex<[String: Int]>([:])
        func add(_ method: HTTPMethod) { counts.withLock { $0[method.rawValue, default: 0] += 1 } }
        func value(_ method: HTTPMethod) -> Int { counts.withLock { $0[method.rawValue] ?? 0 } }
    }

    private init(server: LoopbackServer, seen: Counter) {
        self.server = server
        self.seen = seen
    }

    static func start() async throws -> ResettingUpstream {
        let seen = Counter()
        let server = try await LoopbackServer.start { channel in
            try channel.pipeline.syncOperations.addHandler(ResetHandler(seen: seen))
        }
        return ResettingUpstream(server: server, seen: seen)
    }

    func shutdown() async throws {
        try await server.shutdown()
    }

    private final class ResetHandler: ChannelInboundHandler, Sendable {
        typealias InboundIn = HTTPServerRequestPart
        let seen: Counter

        init(seen: Counter) {
            self.seen = seen
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard case .head(let head) = unwrapInboundIn(data) else { return }
            seen.add(head.method)
            context.close(promise: nil)
        }
    }
}
