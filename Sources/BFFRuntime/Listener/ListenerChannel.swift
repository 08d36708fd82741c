import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP2
import NIOSSL

/// Every connection the public listener accepts, from its first byte to the HTTP version it speaks:
///
/// - TLS (when the spec has `tls:`): the handshake with the current certificate
///   (``TLSCredentials``), under a deadline, then ALPN picks `h2` or `http/1.1`;
/// - plaintext with `http2: true`: ``PrefaceSniffer`` tells h2c prior knowledge from HTTP/1.1;
/// - plaintext otherwise: HTTP/1.1 straight away.
///
/// HTTP/1.1 connections go to ``EventLoopPinnedHTTP1Channel`` (head guard, fast aggregations,
/// Hummingbird), HTTP/2 ones to ``HTTP2Ingress``.
struct ListenerChannel: ServerChildChannel {
    enum Value: ServerChildChannelValue {
        case http1(HTTP1Channel.Value)
        /// TLS, or h2c by preface: the version is known once the handshake or the preface is in.
        case negotiating(EventLoopFuture<NIONegotiatedHTTPVersion<HTTP1Channel.Value, HTTP2Ingress.Connection>>, any Channel)

        var channel: any Channel {
            switch self {
            case .http1(let value): value.channel
            case .negotiating(_, let channel): channel
            }
        }
    }

    let http1: EventLoopPinnedHTTP1Channel
    /// HTTP/2 over TLS by ALPN, or on plaintext by preface; nil speaks HTTP/1.1 only.
    let http2: HTTP2Ingress?
    let tls: TLSCredentials?
    /// How long a TLS handshake, or the first bytes of a plaintext connection that may be h2c, may take.
    let handshakeTimeout: Duration
    let idleTimeout: Duration

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let operations = channel.pipeline.syncOperations
        do {
            if let tls {
                try operations.addHandler(NIOSSLServerHandler(context: tls.context))
                try operations.addHandler(TLSConnectionState(handshakeTimeout: handshakeTimeout))
            } else if http2 != nil {
                try operations.addHandler(PrefaceSniffer(timeout: idleTimeout))
            } else {
                return http1.setup(channel: channel, logger: logger).map { .http1($0) }
            }
        } catch {
            return channel.eventLoop.makeFailedFuture(error)
        }
        let http2 = self.http2
        return channel.configureHTTP2AsyncSecureUpgrade(
            http1ConnectionInitializer: { channel in http1.setup(channel: channel, logger: logger) },
            http2ConnectionInitializer: { channel in
                guard let http2 else {
                    return channel.close().flatMapThrowing { throw NIOHTTP2Errors.invalidALPNToken() }
                }
                return channel.eventLoop.makeCompletedFuture { try http2.setup(channel: channel) }
            }
        )
        .map { .negotiating($0, channel) }
    }

    func handle(value: Value, logger: Logger) async {
        switch value {
        case .http1(let connection):
            await http1.handle(value: connection, logger: logger)
        case .negotiating(let negotiated, _):
            do {
                switch try await negotiated.get() {
                case .http1_1(let connection): await http1.handle(value: connection, logger: logger)
                case .http2(let connection): await http2?.handle(connection, logger: logger)
                }
            } catch {
                logger.debug("connection closed before its protocol was settled", metadata: ["error": "\(error)"])
            }
        }
    }
}
