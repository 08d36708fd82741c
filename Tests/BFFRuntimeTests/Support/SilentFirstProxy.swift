import NIOCore
import NIOPosix
import Synchronization

/// A TCP relay on 127.0.0.1 whose first connection is a black hole (it reads and never answers, as a
/// wedged peer would) and whose later connections are relayed byte for byte to `target`.
final class SilentFirstProxy: Sendable {
    private let channel: any Channel
    private let countSource: Counter

    var port: Int { channel.localAddress?.port ?? 0 }

    init(target: Int) async throws {
        let counter = Counter()
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { inbound in
                let number = counter.next()
                guard number > 1 else {
                    return inbound.pipeline.addHandler(Discard())
                }
                return ClientBootstrap(group: inbound.eventLoop).connect(host: "127.0.0.1", port: target).flatMap { outbound in
                    let (toTarget, toClient) = (Relay(partner: outbound), Relay(partner: inbound))
                    return inbound.pipeline.addHandler(toTarget).flatMap { outbound.pipeline.addHandler(toClient) }
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        countSource = counter
    }

    /// Connections accepted so far.
    var acceptedConnections: Int { countSource.value }

    func close() async {
        try? await channel.close()
    }

    private final class Counter: Sendable {
        private let count = Atomic<Int>(0)
        func next() -> Int { count.add(1, ordering: .relaxed).newValue }
        var value: Int { count.load(ordering: .relaxed) }
    }

    private final class Discard: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {}
    }

    private final class Relay: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        let partner: any Channel

        init(partner: any Channel) {
            self.partner = partner
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            partner.writeAndFlush(data, promise: nil)
        }

        func channelInactive(context: ChannelHandlerContext) {
            partner.close(promise: nil)
            context.fireChannelInactive()
        }
    }
}
