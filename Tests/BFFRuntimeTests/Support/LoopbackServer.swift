import NIOCore
import NIOHTTP1
import NIOPosix

/// A test upstream on 127.0.0.1 with its own event loop: an HTTP/1 server whose pipeline ends in
/// the handlers `configure` adds.
final class LoopbackServer: Sendable {
    let port: Int
    private let channel: any Channel
    private let group: MultiThreadedEventLoopGroup

    private init(port: Int, channel: any Channel, group: MultiThreadedEventLoopGroup) {
        self.port = port
        self.channel = channel
        self.group = group
    }

    /// - Parameters:
    ///   - socketBufferBytes: small send/receive buffers make backpressure show up quickly.
    ///   - configure: adds handlers before the HTTP codec (e.g. TLS) and after it (the responder).
    static func start(
        socketBufferBytes: Int? = nil,
        beforeHTTP: @escaping @Sendable (any Channel) throws -> Void = { _ in },
        configure: @escaping @Sendable (any Channel) throws -> Void
    ) async throws -> LoopbackServer {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var bootstrap = ServerBootstrap(group: group).serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
        if let socketBufferBytes {
            bootstrap = bootstrap
                .childChannelOption(.socketOption(.so_sndbuf), value: SocketOptionValue(socketBufferBytes))
                .childChannelOption(.socketOption(.so_rcvbuf), value: SocketOptionValue(socketBufferBytes))
        }
        let channel = try await bootstrap
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try beforeHTTP(channel)
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try configure(channel)
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return LoopbackServer(port: channel.localAddress?.port ?? 0, channel: channel, group: group)
    }

    func shutdown() async throws {
        try await channel.close()
        try await group.shutdownGracefully()
    }
}

/// A spec with one service at `port` and one proxy route `* /<prefix>/{rest*}` forwarding to `/<target>{rest}`,
/// accepting uploads of up to 2 GiB.
func proxySpec(port: Int, prefix: String, target: String = "/") -> String {
    """
    name: proxy-test
    limits: { proxy_body: 2GiB }
    services:
      upstream: { url: "http://127.0.0.1:\(port)", timeout: 5s }
    endpoints:
      - route: "* /\(prefix)/{rest*}"
        proxy: { service: upstream, path: "\(target){rest}" }
    """
}
