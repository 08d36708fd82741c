import BFFSpec
import NIOCore
import NIOPosix
import NIOSSL

extension ServiceEndpoint {
    /// A connection of its own to this service on `loop`, for what the pools do not carry (a
    /// WebSocket, an HTTP/2 connection): the service's connect timeout, TCP_NODELAY, and TLS for an
    /// https service (its `ca_file`, or the system's CAs; ALPN offering `alpn`), then `configure`'s
    /// handlers.
    func connect(
        on loop: any EventLoop,
        alpn: [String] = [],
        configure: @escaping @Sendable (any Channel) throws -> Void = { _ in }
    ) -> EventLoopFuture<any Channel> {
        let tls: NIOSSLContext?
        do {
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.applicationProtocols = alpn
            if let caFile { configuration.trustRoots = .file(caFile) }
            tls = isTLS ? try NIOSSLContext(configuration: configuration) : nil
        } catch {
            return loop.makeFailedFuture(error)
        }
        let serverName = address == nil ? host : nil
        return ClientBootstrap(group: loop)
            .connectTimeout(.nanoseconds(connectTimeout.nanosecondsValue))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls { try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: tls, serverHostname: serverName)) }
                    try configure(channel)
                }
            }
            .connect(host: host, port: port)
    }
}
