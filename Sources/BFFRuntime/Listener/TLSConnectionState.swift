import BFFSpec
import NIOCore
import NIOSSL
import NIOTLS
import SwiftASN1
import X509

/// What a connection's TLS handshake established, for the requests on it.
public struct TLSConnectionInfo: Sendable, Hashable {
    /// The negotiated version, e.g. `TLSv1.3`.
    public var version: String
    /// The verified client certificate's subject as RFC 4514 text (`CN=partner-a,O=Acme`); nil
    /// when the listener asks for no client certificate.
    public var clientSubject: String?
}

/// Sits right after the TLS handler of every accepted TLS connection: closes a connection whose
/// handshake has not completed within the limit (a client that connects and stalls holds a slot
/// and memory), and keeps what the handshake established, which ``BFFRequestContext`` reads.
///
/// An HTTP/2 stream's pipeline holds one made with ``init(established:)`` from its connection's.
final class TLSConnectionState: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    private(set) var established: TLSConnectionInfo?
    private let handshakeTimeout: TimeAmount?
    private var deadline: Scheduled<Void>?

    init(handshakeTimeout: Duration) {
        self.handshakeTimeout = .nanoseconds(handshakeTimeout.nanosecondsValue)
    }

    init(established: TLSConnectionInfo?) {
        self.established = established
        self.handshakeTimeout = nil
    }

    func handlerAdded(context: ChannelHandlerContext) {
        guard let handshakeTimeout, established == nil else { return }
        let channel = context.channel
        deadline = context.eventLoop.scheduleTask(in: handshakeTimeout) { channel.close(promise: nil) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted = event as? TLSUserEvent {
            deadline?.cancel()
            deadline = nil
            let handler = try? context.pipeline.syncOperations.handler(type: NIOSSLServerHandler.self)
            established = TLSConnectionInfo(
                version: handler?.tlsVersion.map(Self.name) ?? "TLS",
                clientSubject: handler?.peerCertificate.flatMap { try? Certificate(derEncoded: $0.toDERBytes()).subject.description }
            )
        }
        context.fireUserInboundEventTriggered(event)
    }

    /// What the TLS handshake of the connection `channel` belongs to established; nil for plaintext.
    static func established(on channel: any Channel) -> TLSConnectionInfo? {
        guard channel.eventLoop.inEventLoop else { return nil }
        return (try? channel.pipeline.syncOperations.handler(type: TLSConnectionState.self))?.established
    }

    private static func name(_ version: NIOSSL.TLSVersion) -> String {
        switch version {
        case .tlsv1: "TLSv1"
        case .tlsv11: "TLSv1.1"
        case .tlsv12: "TLSv1.2"
        case .tlsv13: "TLSv1.3"
        }
    }
}
