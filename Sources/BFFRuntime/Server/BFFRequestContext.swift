public import Hummingbird
public import NIOCore
import Synchronization

/// Per-request context: the connection's event loop (so upstream calls stay on it), the peer
/// address, the request id, and the record the access log reads.
public struct BFFRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public let eventLoop: any EventLoop
    public let remoteAddress: SocketAddress?
    /// The client's connection (an HTTP/2 stream's own channel), for the WebSocket switch.
    let channel: any Channel
    /// What the connection's TLS handshake established; nil on a plaintext connection.
    public let tls: TLSConnectionInfo?
    /// The request id: the client's `X-Request-ID` when well-formed, else generated.
    public var requestID: String = ""
    /// What the endpoint reports back to the access log.
    public let record = RequestRecord()
    /// The authenticated caller; nil on public routes.
    public var principal: Principal?
    /// Headers every upstream call carries for the caller (`forward_claims`).
    var identityHeaders: [(String, String)] = []
    /// The request's server span, when the spec has `tracing:`.
    var trace: ServerTrace?
    /// Whether the request came on an HTTP/2 stream (whose channel is a child of the connection's).
    var isHTTP2Stream: Bool { channel.parent != nil }

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        eventLoop = source.channel.eventLoop
        remoteAddress = source.channel.remoteAddress
        channel = source.channel
        tls = TLSConnectionState.established(on: source.channel)
    }
}

/// What an endpoint tells the access log and the metrics about a request: its route, which
/// calls degraded, and how each call ended.
public final class RequestRecord: Sendable {
    private struct State {
        var route: String?
        var degradedCalls: [String] = []
        var calls: [CallSample] = []
    }

    private let state = Mutex(State())

    public init() {}

    public var route: String? { state.withLock { $0.route } }
    public var degradedCalls: [String] { state.withLock { $0.degradedCalls } }
    var calls: [CallSample] { state.withLock { $0.calls } }

    func note(route: String, degradedCalls: [String] = [], calls: [CallSample] = []) {
        state.withLock {
            $0.route = route
            $0.degradedCalls = degradedCalls
            $0.calls = calls
        }
    }
}

/// One call of an aggregation as the metrics count it.
struct CallSample: Sendable {
    var name: String
    var status: CallStatus
    var milliseconds: Double
}
