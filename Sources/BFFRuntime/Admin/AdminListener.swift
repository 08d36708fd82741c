import BFFSpec
import Hummingbird
import Logging
import NIOCore
import NIOPosix

/// The operator's listener, apart from the public one: `/metrics` (Prometheus text), `/health`
/// and `/ready`. Bound to loopback unless told otherwise, so metrics never leave the machine
/// (or the pod) by accident.
enum AdminListener {
    /// The admin application for one BFF; it runs beside the public one and stops with it.
    ///
    /// - Parameter onListening: called with the bound port once it accepts connections.
    static func application(
        address: HostPort,
        name: String,
        metrics: BFFMetrics,
        readiness: Readiness,
        group: any EventLoopGroup,
        logger: Logger,
        onListening: (@Sendable (Int) async -> Void)?
    ) -> some ApplicationProtocol {
        let router = Hummingbird.Router(context: BasicRequestContext.self)
        router.get("metrics") { _, _ -> Response in
            Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8", .cacheControl: "no-store"],
                body: .init(byteBuffer: ByteBuffer(bytes: metrics.exposition()))
            )
        }
        router.get("health") { _, _ in status(.ok, "ok") }
        router.get("ready") { _, _ in readiness.isReady ? status(.ok, "ready") : status(.serviceUnavailable, "draining") }
        return Application(
            router: router,
            configuration: .init(address: .hostname(address.host, port: address.port), serverName: nil, reuseAddress: true),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? 0
                logger.notice("\(name)-bff admin listener (metrics) on \(HostPort(host: address.host, port: port))")
                await onListening?(port)
            },
            eventLoopGroupProvider: .shared(group),
            logger: logger
        )
    }

    private static func status(_ code: HTTPResponse.Status, _ text: String) -> Response {
        Response(
            status: code,
            headers: [.contentType: "application/json", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(string: #"{"status":"\#(text)"}"#))
        )
    }
}
