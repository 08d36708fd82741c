import NIOCore
import NIOHTTP1

/// One streamed request/response on an upstream connection, driven by
/// ``UpstreamConnectionHandler``: a proxied exchange (``StreamingExchange``, or a try of a
/// ``LoopProxyCall``).
///
/// Lives on the connection's event loop; every method is called there.
protocol UpstreamExchange: AnyObject {
    func receiveHead(_ head: UpstreamResponseHead)
    func receiveBody(_ buffer: ByteBuffer)
    func receiveEnd()
    func fail(_ error: UpstreamError)
}
